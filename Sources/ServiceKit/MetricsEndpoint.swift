import ClstrRuntime
import HTTPFront
import RuntimeMemory

/// Serves `GET /metrics` in the Prometheus text format from a render function installed once the process's
/// parts exist (before that, an empty page).
public final class MetricsEndpoint: HTTPService {
    private let router: HTTPRouter
    private let renderer = Locked<(@Sendable () -> String)?>(nil)
    public var routeNames: [String] { router.routeNames }

    public init() {
        var router = HTTPRouter()
        router.add(.get, "/metrics", name: "metrics")
        self.router = router
    }

    /// Sets what the endpoint renders.
    public func install(_ render: @escaping @Sendable () -> String) {
        renderer.withLock { $0 = render }
    }

    public func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        let router = self.router
        switch request.withPath({ router.match(request.method, path: $0) }) {
        case .found(let route, _):
            let text = renderer.withLock { $0 }?() ?? ""
            exchange.respond(
                HTTPResponse(status: .ok, contentType: .prometheus, body: .string(text)), route: route.index)
        case .methodNotAllowed(let route, let allow):
            exchange.respond(.error(.methodNotAllowed, "method not allowed", allow: allow), route: route.index)
        case .notFound:
            exchange.respond(.error(.notFound, "not found"), route: router.notFound.index)
        }
    }

    public func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder)
    {
        response.error(.internalServerError, "unexpected deferred response")
    }
}

/// The allocator's and the process's memory, for every service's metrics page.
public enum HeapMetrics {
    /// Appends the heap and RSS gauges.
    public static func render(into text: inout PrometheusExposition) {
        let heap = HeapStatistics.current()
        text.header(
            "clstr_heap_allocated_bytes", type: "gauge",
            help: "Bytes in live heap allocations (jemalloc stats.allocated).")
        text.sample("clstr_heap_allocated_bytes", value: heap.allocated)
        text.header(
            "clstr_heap_active_bytes", type: "gauge", help: "Bytes in active heap pages (jemalloc stats.active).")
        text.sample("clstr_heap_active_bytes", value: heap.active)
        text.header(
            "clstr_heap_resident_bytes", type: "gauge",
            help: "Resident bytes mapped by the allocator (jemalloc stats.resident).")
        text.sample("clstr_heap_resident_bytes", value: heap.resident)
        text.header("process_resident_memory_bytes", type: "gauge", help: "Resident memory size in bytes.")
        text.sample("process_resident_memory_bytes", value: heap.processRSS)
    }
}
