import HTTPFront
import NIOCore
import ClstrRuntime

/// The counter's HTTP API (the spec's, plus routing endpoints), on the event loops, with no allocation on the
/// increment path beyond what the cluster needs.
///
/// | route | answer |
/// |---|---|
/// | `POST /counter/{id}/increment` (body `{"amount": N}`, optional) | `{"counter_id":"…","value":N}` |
/// | `GET /counter/{id}` | `{"counter_id":"…","value":N}` |
/// | `GET /` | the index text |
/// | `GET /cluster/route/{key}` | `{"key":"…","shard":N,"node":"…"}` |
/// | `GET /cluster/nodes` | `{"nodes":[{"id":"node-0","shards":[…]},…]}` |
///
/// `{id}` and `{key}` are one path segment, percent-decoded as UTF-8 (so `%2F` addresses a key with `/`); an ID
/// must be 1…256 bytes. Errors answer `{"error":"…"}`: 400 (bad ID, invalid JSON), 422 (an amount that is not an
/// integer in 1…Int.max), 409 (the value would overflow), 404, 405, 503/504 (cluster unavailable or late).
final class CounterHTTPService: HTTPService {
    /// The routes, declared once: method, pattern, metrics name.
    struct Routes: Sendable {
        let router: HTTPRouter
        let index: HTTPRoute
        let increment: HTTPRoute
        let get: HTTPRoute
        let route: HTTPRoute
        let nodes: HTTPRoute

        init() {
            var router = HTTPRouter()
            index = router.add(.get, "/", name: "index")
            increment = router.add(.post, "/counter/{id}/increment", name: "increment")
            get = router.add(.get, "/counter/{id}", name: "get")
            route = router.add(.get, "/cluster/route/{key}", name: "cluster_route")
            nodes = router.add(.get, "/cluster/nodes", name: "cluster_nodes")
            self.router = router
        }
    }

    /// The longest counter ID accepted, in UTF-8 bytes.
    static let maxIDBytes = 256

    let routes = Routes()
    var routeNames: [String] { routes.router.routeNames }
    let client: ClusterClient
    let clusterMetrics: ClusterOutcomeMetrics
    private let nodesJSON: String

    static let indexText: StaticString = """
        Counter Demo (swift-clstr)

        POST /counter/{id}/increment   increment by 1, or by N with the body {"amount": N}
        GET  /counter/{id}             current value
        GET  /cluster/route/{key}      the shard and node a key maps to
        GET  /cluster/nodes            the nodes and the shards each owns
        GET  :metrics-port/metrics     Prometheus metrics

        """

    init(client: ClusterClient, clusterMetrics: ClusterOutcomeMetrics) {
        self.client = client
        self.clusterMetrics = clusterMetrics
        var json = JSONWriter()
        json.writeRaw(#"{"nodes":["#)
        for (index, node) in client.shardMap.nodeIDs.enumerated() {
            if index > 0 { json.writeRaw(",") }
            json.writeRaw(#"{"id":"#)
            json.writeString(node)
            json.writeRaw(#","shards":["#)
            for (position, shard) in client.shardMap.shards(ownedBy: node).enumerated() {
                if position > 0 { json.writeRaw(",") }
                json.writeInt(shard)
            }
            json.writeRaw("]}")
        }
        json.writeRaw(#"],"num_shards":"#)
        json.writeInt(client.shardMap.numShards)
        json.writeRaw(#","seed":"#)
        json.writeString(client.shardMap.seed)
        json.writeRaw("}")
        nodesJSON = json.string
    }

    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        request.withPath { path in
            switch routes.router.match(request.method, path: path) {
            case .found(let route, let parameters):
                serve(route, parameters, request, exchange)
            case .methodNotAllowed(let route, let allow):
                exchange.respond(.error(.methodNotAllowed, "method not allowed", allow: allow), route: route.index)
            case .notFound:
                exchange.respond(.error(.notFound, "not found"), route: routes.router.notFound.index)
            }
        }
    }

    private func serve(
        _ route: HTTPRoute, _ parameters: HTTPPathParameters, _ request: HTTPRequest, _ exchange: borrowing HTTPExchange
    ) {
        switch route {
        case routes.increment:
            guard let id = counterID(parameters[0], route: route, exchange) else { return }
            let verdict = request.body.withUnsafeReadableBytes { JSONAmountParser.parse($0) }
            switch verdict {
            case .amount(let amount):
                let target = exchange.deferResponse(route: route.index, key: id)
                client.request(Increment(amount: amount), key: id, replyTo: target.replyTo, context: target.context)
            case .invalidJSON(let reason):
                exchange.respond(.error(.badRequest, "invalid JSON: \(reason)"), route: route.index)
            case .invalidAmount(let reason):
                exchange.respond(.error(.unprocessableContent, reason), route: route.index)
            }
        case routes.get:
            guard let id = counterID(parameters[0], route: route, exchange) else { return }
            let target = exchange.deferResponse(route: route.index, key: id)
            client.request(GetValue(), key: id, replyTo: target.replyTo, context: target.context)
        case routes.route:
            guard let key = parameters[0].decoded() else {
                return exchange.respond(
                    .error(.badRequest, "key is not valid percent-encoded UTF-8"), route: route.index)
            }
            let shard = client.shardMap.shard(forKey: key)
            var json = JSONWriter()
            json.writeRaw(#"{"key":"#)
            json.writeString(key)
            json.writeRaw(#","shard":"#)
            json.writeInt(shard)
            json.writeRaw(#","node":"#)
            json.writeString(client.shardMap.owner(ofShard: shard))
            json.writeRaw("}")
            exchange.respond(
                HTTPResponse(status: .ok, contentType: .json, body: .string(json.string)), route: route.index)
        case routes.nodes:
            exchange.respond(
                HTTPResponse(status: .ok, contentType: .json, body: .string(nodesJSON)), route: route.index)
        default:  // routes.index, the last one
            exchange.respond(
                HTTPResponse(status: .ok, contentType: .plainText, body: .staticText(Self.indexText)),
                route: route.index)
        }
    }

    /// Decodes and checks a counter ID; answers 400 and returns nil when it is unusable.
    private func counterID(_ raw: HTTPPathParameter, route: HTTPRoute, _ exchange: borrowing HTTPExchange) -> String? {
        guard !raw.isEmpty else {
            exchange.respond(.error(.badRequest, "counter ID required"), route: route.index)
            return nil
        }
        // A decoded byte takes at most 3 raw bytes: a longer raw segment is too long whatever it decodes to, and is
        // refused before the connection makes (and keeps) a String of it.
        guard raw.raw.count <= 3 * Self.maxIDBytes, let id = exchange.string(for: raw), id.utf8.count <= Self.maxIDBytes
        else {
            // Too long, or not decodable (then a segment of a valid length does not decode).
            let tooLong = raw.raw.count > 3 * Self.maxIDBytes || raw.withDecoded({ _ in true }) != nil
            let message =
                tooLong
                ? "counter ID longer than \(Self.maxIDBytes) bytes" : "counter ID is not valid percent-encoded UTF-8"
            exchange.respond(.error(.badRequest, message), route: route.index)
            return nil
        }
        return id
    }

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        let operation: ClusterOutcomeMetrics.Operation = deferred.route == routes.increment.index ? .increment : .get
        switch outcome.decode(as: Int.self) {
        case .success(let value):
            clusterMetrics.record(shard: deferred.shard, operation: operation, code: nil)
            response.body.writeJSON(#"{"counter_id":"#, string: deferred.key, #","value":"#, int: value, "}")
        case .failure(let error):
            clusterMetrics.record(shard: deferred.shard, operation: operation, code: error.code)
            switch error.code.rawValue {
            case CounterError.overflowCode:
                response.error(.conflict, error.message)
            case CounterError.invalidAmountCode:
                response.error(.unprocessableContent, error.message)
            case RequestError.Code.deadlineExceeded.rawValue, RequestError.Code.outcomeUnknown.rawValue:
                // It may have been applied: never a 503, which promises it was not.
                response.error(
                    .gatewayTimeout, "outcome unknown (it may have been applied): \(error)", code: "outcome_unknown")
            case RequestError.Code.noResponder.rawValue, RequestError.Code.disconnected.rawValue,
                RequestError.Code.transportClosed.rawValue, RequestError.Code.stopped.rawValue,
                RequestError.Code.mailboxFull.rawValue:
                // Certainly not applied (the encoder adds `Retry-After`).
                response.error(.serviceUnavailable, "not applied: \(error)", code: "unavailable")
            default:
                response.error(.internalServerError, "cluster error: \(error)")
            }
        }
    }
}
