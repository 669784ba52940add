import HTTPFront
import ClstrRuntime
import ServiceKit
import Synchronization

/// Serves `GET /metrics` in the Prometheus text format: HTTP, actor, cluster and heap metrics, read from
/// lock-free counters when scraped. No label carries a per-key value.
final class MetricsHTTPService: HTTPService {
    private static let routes = MetricsRoutes()
    let routeNames = MetricsHTTPService.routes.router.routeNames
    private let sources = Locked<MetricsSources?>(nil)

    init() {}

    /// Sets what the endpoint renders (once the parts of the process exist).
    func install(_ sources: MetricsSources) {
        self.sources.withLock { $0 = sources }
    }

    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        let routes = Self.routes
        switch request.withPath({ routes.router.match(request.method, path: $0) }) {
        case .found(let route, _):
            exchange.respond(
                HTTPResponse(
                    status: .ok, contentType: .prometheus, body: .string(sources.withLock { $0 }?.render() ?? "")),
                route: route.index)
        case .methodNotAllowed(let route, let allow):
            exchange.respond(.error(.methodNotAllowed, "method not allowed", allow: allow), route: route.index)
        case .notFound:
            exchange.respond(.error(.notFound, "not found"), route: routes.router.notFound.index)
        }
    }

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        response.error(.internalServerError, "unexpected deferred response")
    }
}

/// The metrics port's one route.
struct MetricsRoutes: Sendable {
    let router: HTTPRouter
    let metrics: HTTPRoute

    init() {
        var router = HTTPRouter()
        metrics = router.add(.get, "/metrics", name: "metrics")
        self.router = router
    }
}

/// What the metrics endpoint reads; parts absent in a process mode (a gateway has no actors, a node no HTTP
/// front) are nil.
final class MetricsSources: Sendable {
    let http: (any HTTPServing)?
    let cluster: ClusterOutcomeMetrics?
    let actors: ActorMetrics?
    /// Node ID → shards owned, for the nodes in this process.
    let shardsOwned: [(String, Int)]

    init(http: (any HTTPServing)?, cluster: ClusterOutcomeMetrics?, actors: ActorMetrics?, shardsOwned: [(String, Int)])
    {
        self.http = http
        self.cluster = cluster
        self.actors = actors
        self.shardsOwned = shardsOwned
    }

    /// Renders everything.
    func render() -> String {
        var text = PrometheusExposition()
        http?.metrics.render(into: &text)
        if let cluster {
            text.header(
                "clstr_cluster_requests_total", type: "counter", help: "Cluster requests by message type and outcome.")
            for operation in ClusterOutcomeMetrics.Operation.allCases {
                for (outcome, outcomeName) in ClusterOutcomeMetrics.outcomes.enumerated() {
                    let value = cluster.count(operation: operation, outcome: outcome)
                    if value == 0 && outcome != 0 { continue }
                    text.sample(
                        "clstr_cluster_requests_total",
                        labels: [("message_type", operation.label), ("outcome", outcomeName)],
                        value: value)
                }
            }
        }
        if !shardsOwned.isEmpty {
            text.header("clstr_cluster_shards_owned", type: "gauge", help: "Shards owned by each node of this process.")
            for (node, count) in shardsOwned {
                text.sample("clstr_cluster_shards_owned", labels: [("node_id", node)], value: count)
            }
        }
        if let actors {
            // Relaxed loads (and the reset of the max depth): a scrape needs no ordering with the messages it
            // counts, only eventually consistent values.
            text.header("clstr_actor_messages_total", type: "counter", help: "Messages handled by the counter actors.")
            text.sample("clstr_actor_messages_total", value: actors.messages.load(ordering: .relaxed))
            text.header("clstr_actor_message_failures_total", type: "counter", help: "Messages whose handler threw.")
            text.sample("clstr_actor_message_failures_total", value: actors.failures.load(ordering: .relaxed))
            text.header(
                "clstr_actor_messages_expired_total", type: "counter", help: "Messages dropped past their deadline.")
            text.sample("clstr_actor_messages_expired_total", value: actors.expired.load(ordering: .relaxed))
            text.header(
                "clstr_actor_mailbox_full_total", type: "counter", help: "Sends refused because a mailbox was full.")
            text.sample("clstr_actor_mailbox_full_total", value: actors.rejectedFull.load(ordering: .relaxed))
            text.header("clstr_actor_message_duration_seconds", type: "histogram", help: "Actor handler durations.")
            text.histogram("clstr_actor_message_duration_seconds", actors.handlerDuration)
            text.header("clstr_actor_mailbox_depth", type: "gauge", help: "Mailbox depth after the most recent turn.")
            text.sample("clstr_actor_mailbox_depth", value: actors.lastDepth.load(ordering: .relaxed))
            text.header(
                "clstr_actor_mailbox_depth_max", type: "gauge",
                help: "Deepest mailbox after a turn since the last scrape.")
            text.sample("clstr_actor_mailbox_depth_max", value: actors.maxDepth.exchange(0, ordering: .relaxed))
            text.header("clstr_actor_turns_total", type: "counter", help: "Actor turns run.")
            text.sample("clstr_actor_turns_total", value: actors.turns.load(ordering: .relaxed))
            text.header("clstr_actors_alive", type: "gauge", help: "Counter actors alive.")
            text.sample("clstr_actors_alive", value: actors.actorsAlive.load(ordering: .relaxed))
            text.header("clstr_actor_passivations_total", type: "counter", help: "Idle actors passivated.")
            text.sample("clstr_actor_passivations_total", value: actors.passivations.load(ordering: .relaxed))
        }
        HeapMetrics.render(into: &text)
        return text.text
    }
}
