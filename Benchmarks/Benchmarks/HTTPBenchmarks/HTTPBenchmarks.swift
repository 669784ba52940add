import Benchmark
import ClstrRuntime
import HTTPFront

/// A counter-like service for the request path without the cluster: the counter-service's routes, its JSON
/// amount parsing and answer rendering; a deferred request's outcome is delivered at once, as an in-process
/// actor reply on the connection's loop would be.
final class CounterLikeService: HTTPService {
    struct Routes: Sendable {
        let router: HTTPRouter
        let increment: HTTPRoute
        let get: HTTPRoute

        init() {
            var router = HTTPRouter()
            router.add(.get, "/", name: "index")
            increment = router.add(.post, "/counter/{id}/increment", name: "increment")
            get = router.add(.get, "/counter/{id}", name: "get")
            router.add(.get, "/cluster/route/{key}", name: "cluster_route")
            router.add(.get, "/cluster/nodes", name: "cluster_nodes")
            self.router = router
        }
    }

    let routes = Routes()
    var routeNames: [String] { routes.router.routeNames }

    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        request.withPath { path in
            switch routes.router.match(request.method, path: path) {
            case .found(let route, let parameters) where route == routes.increment || route == routes.get:
                guard let id = exchange.string(for: parameters[0]) else {
                    return exchange.respond(.error(.badRequest, "bad ID"), route: route.index)
                }
                var amount = 1
                if route == routes.increment {
                    guard
                        case .amount(let parsed) = request.body.withUnsafeReadableBytes({ JSONAmountParser.parse($0) })
                    else {
                        return exchange.respond(.error(.badRequest, "bad amount"), route: route.index)
                    }
                    amount = parsed
                }
                let target = exchange.deferResponse(route: route.index, key: id)
                target.replyTo.deliver(.success(amount), context: target.context)
            case .found(let route, _):
                exchange.respond(.error(.notFound, "not here"), route: route.index)
            case .methodNotAllowed(let route, let allow):
                exchange.respond(.error(.methodNotAllowed, "method not allowed", allow: allow), route: route.index)
            case .notFound:
                exchange.respond(.error(.notFound, "not found"), route: routes.router.notFound.index)
            }
        }
    }

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        switch outcome.get(as: Int.self) {
        case .success(let value):
            response.body.writeJSON(#"{"counter_id":"#, string: deferred.key, #","value":"#, int: value, "}")
        case .failure(let error):
            response.error(.serviceUnavailable, error.message)
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No ARC metrics: they crash without the runtime interposer (see the README).
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 2,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // The spec's increment with a bench-length ID (19 bytes: over Swift's 15-byte small strings), as wrk sends it.
    let increment = Array(
        ("POST /counter/bench-counter-00042/increment HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            + "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"amount\": 1}").utf8)
    let get = Array("GET /counter/bench-counter-00042 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".utf8)
    // The same increment with a chunked body (decoded in place in the connection's receive buffer).
    let chunkedIncrement = Array(
        ("POST /counter/bench-counter-00042/increment HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "6\r\n{\"amou\r\n7\r\nnt\": 1}\r\n0\r\n\r\n").utf8)
    for (name, request) in [("increment", increment), ("get", get), ("increment, chunked body", chunkedIncrement)] {
        Benchmark(
            "HTTP parse → route → render: \(name)",
            configuration: .init(scalingFactor: .kilo)
        ) { benchmark in
            let connection = HTTPMemoryConnection(service: CounterLikeService())
            // Steady state: the connection's buffers and its recent-ID string exist before the measured region.
            request.withUnsafeBytes { connection.receive($0) }
            precondition(connection.discardOutput() > 0, "no answer")
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                request.withUnsafeBytes { connection.receive($0) }
                blackHole(connection.discardOutput())
            }
            benchmark.stopMeasurement()
            precondition(!connection.isClosed)
        }
    }

    // The control: eight IDs in turn, more than a connection keeps Strings for, so every request makes the ID's
    // String (19 bytes: one malloc) — what the cluster's `key: String` costs for a key the connection has not sent
    // lately. Also proves that the malloc counter sees this binary's allocations.
    let rotating = (0..<8).map { index in
        Array("GET /counter/bench-counter-0004\(index) HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".utf8)
    }
    Benchmark(
        "HTTP parse → route → render: get, 8 IDs in turn (control: one String per request)",
        configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        let connection = HTTPMemoryConnection(service: CounterLikeService())
        for request in rotating { request.withUnsafeBytes { connection.receive($0) } }
        connection.discardOutput()
        var next = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            rotating[next].withUnsafeBytes { connection.receive($0) }
            next = (next + 1) & 7
            blackHole(connection.discardOutput())
        }
        benchmark.stopMeasurement()
    }
}
