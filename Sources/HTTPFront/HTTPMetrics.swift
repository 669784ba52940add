import ClstrRuntime
import Synchronization

/// Request counters by route and status, request durations by route, connection counts: lock-free, created once.
///
/// Counters and histograms are kept in ``shardCount`` shards (one per event loop; a connection records into the
/// shard of its loop), so that two cores never write the same cache line per request; a scrape sums the shards.
/// Routes are the service's ``HTTPService/routeNames`` plus `malformed` (requests refused by the parser);
/// statuses are the codes of ``HTTPStatus/counted`` plus `other`. Label values are therefore bounded.
public final class HTTPMetrics: Sendable {
    /// The route labels (the service's, then `malformed`).
    public let routeNames: [String]
    /// The route index of requests the parser refused.
    public let malformedRoute: Int
    /// Request durations (from the parsed head to the response written into the output buffer), indexed by
    /// `shard * routeNames.count + route`.
    public let durations: [AtomicHistogram]
    /// The number of shards.
    public let shardCount: Int
    /// Connections currently open.
    public let openConnections = Atomic<Int>(0)
    /// Connections accepted since start.
    public let acceptedConnections = Atomic<Int>(0)
    /// `accept` calls that failed for want of descriptors or memory (each pauses accepting for a second).
    public let acceptFailures = Atomic<Int>(0)
    /// Requests whose head did not arrive within ``HTTPLimits/headTimeout``.
    public let headTimeouts = Atomic<Int>(0)
    /// Requests whose body did not arrive within ``HTTPLimits/bodyTimeout``.
    public let bodyTimeouts = Atomic<Int>(0)
    /// Connections refused (503, closed) because ``HTTPServerConfiguration/maxConnections`` were open.
    public let refusedConnections = Atomic<Int>(0)
    private let counters: [AtomicCounterArray]
    private let statusSlots = HTTPStatus.otherIndex + 1

    /// Creates the metrics of a service.
    /// - Parameters:
    ///   - routeNames: the service's route labels.
    ///   - shards: the number of shards (the number of event loops).
    public init(routeNames: [String], shards: Int = 1) {
        let names = routeNames + ["malformed"]
        self.routeNames = names
        self.malformedRoute = routeNames.count
        self.shardCount = max(1, shards)
        self.durations = (0..<(max(1, shards) * names.count)).map { _ in
            AtomicHistogram(bounds: AtomicHistogram.latencyBounds)
        }
        self.counters = (0..<max(1, shards)).map { _ in
            AtomicCounterArray(count: names.count * (HTTPStatus.otherIndex + 1))
        }
    }

    /// Records one answered request.
    /// - Parameters:
    ///   - shard: the recording connection's shard.
    ///   - route: the route index.
    ///   - status: the status sent.
    ///   - nanoseconds: the time from parse to response.
    func record(shard: Int, route: Int, status: HTTPStatus, nanoseconds: UInt64) {
        let shard = shard % shardCount
        // Single-writer updates: a shard is recorded into only by the connections of one loop, on that loop.
        counters[shard].addSingleWriter(route * statusSlots + status.counterIndex)
        durations[shard * routeNames.count + route].recordSingleWriter(nanoseconds: nanoseconds)
    }

    /// Counts a missed read deadline.
    func recordTimeout(_ kind: HTTPConnectionStateMachine.DeadlineKind) {
        // Relaxed: counters for scrapes, ordered with nothing else.
        switch kind {
        case .head: headTimeouts.wrappingAdd(1, ordering: .relaxed)
        case .body: bodyTimeouts.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// The number of requests answered on `route` with a status in counter slot `statusIndex` (all shards).
    public func count(route: Int, statusIndex: Int) -> Int {
        counters.reduce(0) { $0 + $1.load(route * statusSlots + statusIndex) }
    }

    /// The status label of a counter slot.
    public static func statusLabel(_ statusIndex: Int) -> String {
        statusIndex < HTTPStatus.counted.count ? String(HTTPStatus.counted[statusIndex]) : "other"
    }

    /// Renders the metrics in the Prometheus text format.
    /// - Parameter text: the exposition to append to.
    public func render(into text: inout PrometheusExposition) {
        text.header("clstr_http_requests_total", type: "counter", help: "HTTP requests answered, by route and status.")
        for route in routeNames.indices {
            for status in 0..<statusSlots {
                let value = count(route: route, statusIndex: status)
                if value == 0 { continue }
                text.sample(
                    "clstr_http_requests_total",
                    labels: [("route", routeNames[route]), ("status", Self.statusLabel(status))],
                    value: value)
            }
        }
        text.header(
            "clstr_http_request_duration_seconds", type: "histogram",
            help: "Time from a parsed request to its response, by route.")
        for route in routeNames.indices {
            text.histogram(
                "clstr_http_request_duration_seconds", labels: [("route", routeNames[route])],
                (0..<shardCount).map { durations[$0 * routeNames.count + route] })
        }
        text.header("clstr_http_connections_open", type: "gauge", help: "HTTP connections open.")
        // Relaxed: a scrape reads eventually consistent gauges; nothing else depends on the values.
        text.sample("clstr_http_connections_open", value: openConnections.load(ordering: .relaxed))
        text.header("clstr_http_connections_accepted_total", type: "counter", help: "HTTP connections accepted.")
        text.sample("clstr_http_connections_accepted_total", value: acceptedConnections.load(ordering: .relaxed))
        text.header(
            "clstr_http_accept_failures_total", type: "counter",
            help: "Accepts that failed for want of descriptors or memory (accepting then pauses for a second).")
        text.sample("clstr_http_accept_failures_total", value: acceptFailures.load(ordering: .relaxed))
        text.header(
            "clstr_http_connections_refused_total", type: "counter",
            help: "Connections answered 503 and closed because the open-connection cap was reached.")
        text.sample("clstr_http_connections_refused_total", value: refusedConnections.load(ordering: .relaxed))
        text.header(
            "clstr_http_timeouts_total", type: "counter",
            help: "Requests answered 408 (connection closed) because their head or body missed its read deadline.")
        text.sample(
            "clstr_http_timeouts_total", labels: [("kind", "head")], value: headTimeouts.load(ordering: .relaxed))
        text.sample(
            "clstr_http_timeouts_total", labels: [("kind", "body")], value: bodyTimeouts.load(ordering: .relaxed))
    }
}
