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
    enum Route {
        static let index = 0
        static let increment = 1
        static let get = 2
        static let route = 3
        static let nodes = 4
        static let notFound = 5
    }

    /// The longest counter ID accepted, in UTF-8 bytes.
    static let maxIDBytes = 256

    let routeNames = ["index", "increment", "get", "cluster_route", "cluster_nodes", "not_found"]
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

    func handle(_ request: HTTPRequest, exchange: HTTPExchange) {
        request.withPath { path in route(request, path: path, exchange: exchange) }
    }

    private func route(_ request: HTTPRequest, path: UnsafeRawBufferPointer, exchange: HTTPExchange) {
        if path.count == 1 {
            guard request.method == .get else {
                return exchange.respond(
                    .error(.methodNotAllowed, "method not allowed", allow: "GET"), route: Route.index)
            }
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .plainText, body: .staticText(Self.indexText)),
                route: Route.index)
        }
        if hasPrefix(path, "/counter/") {
            let rest = UnsafeRawBufferPointer(rebasing: path[9...])
            var slash = 0
            while slash < rest.count && rest[slash] != UInt8(ascii: "/") { slash += 1 }
            if slash == rest.count {
                guard request.method == .get else {
                    return exchange.respond(
                        .error(.methodNotAllowed, "method not allowed", allow: "GET"), route: Route.get)
                }
                guard let id = counterID(rest, route: Route.get, exchange: exchange) else { return }
                let target = exchange.deferResponse(route: Route.get, tag: 1, key: id)
                return client.request(GetValue(), key: id, replyTo: target.replyTo, context: target.context)
            }
            let suffix = UnsafeRawBufferPointer(rebasing: rest[slash...])
            guard suffix.count == 10 && hasPrefix(suffix, "/increment") else {
                return exchange.respond(.error(.notFound, "not found"), route: Route.notFound)
            }
            guard request.method == .post else {
                return exchange.respond(
                    .error(.methodNotAllowed, "method not allowed", allow: "POST"), route: Route.increment)
            }
            guard
                let id = counterID(
                    UnsafeRawBufferPointer(rebasing: rest[..<slash]), route: Route.increment, exchange: exchange)
            else { return }
            let verdict = request.body.withUnsafeReadableBytes { JSONAmountParser.parse($0) }
            switch verdict {
            case .amount(let amount):
                let target = exchange.deferResponse(route: Route.increment, tag: 0, key: id)
                client.request(Increment(amount: amount), key: id, replyTo: target.replyTo, context: target.context)
            case .invalidJSON(let reason):
                exchange.respond(.error(.badRequest, "invalid JSON: \(reason)"), route: Route.increment)
            case .invalidAmount(let reason):
                exchange.respond(.error(.unprocessableContent, reason), route: Route.increment)
            }
            return
        }
        if hasPrefix(path, "/cluster/route/") {
            let rest = UnsafeRawBufferPointer(rebasing: path[15...])
            guard !rest.contains(UInt8(ascii: "/")) else {
                return exchange.respond(.error(.notFound, "not found"), route: Route.notFound)
            }
            guard request.method == .get else {
                return exchange.respond(
                    .error(.methodNotAllowed, "method not allowed", allow: "GET"), route: Route.route)
            }
            guard let key = PercentDecoding.decodeSegment(rest) else {
                return exchange.respond(
                    .error(.badRequest, "key is not valid percent-encoded UTF-8"), route: Route.route)
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
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .json, body: .string(json.string)), route: Route.route)
        }
        if path.count == 14 && hasPrefix(path, "/cluster/nodes") {
            guard request.method == .get else {
                return exchange.respond(
                    .error(.methodNotAllowed, "method not allowed", allow: "GET"), route: Route.nodes)
            }
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .json, body: .string(nodesJSON)), route: Route.nodes)
        }
        exchange.respond(.error(.notFound, "not found"), route: Route.notFound)
    }

    /// Decodes and checks a counter ID; answers 400 and returns nil when it is unusable.
    private func counterID(_ raw: UnsafeRawBufferPointer, route: Int, exchange: HTTPExchange) -> String? {
        guard !raw.isEmpty else {
            exchange.respond(.error(.badRequest, "counter ID required"), route: route)
            return nil
        }
        guard let id = PercentDecoding.decodeSegment(raw) else {
            exchange.respond(.error(.badRequest, "counter ID is not valid percent-encoded UTF-8"), route: route)
            return nil
        }
        guard id.utf8.count <= Self.maxIDBytes else {
            exchange.respond(.error(.badRequest, "counter ID longer than \(Self.maxIDBytes) bytes"), route: route)
            return nil
        }
        return id
    }

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        switch outcome.decode(as: Int.self) {
        case .success(let value):
            clusterMetrics.record(shard: deferred.shard, messageType: deferred.tag, code: nil)
            response.body.writeJSON(#"{"counter_id":"#, string: deferred.key, #","value":"#, int: value, "}")
        case .failure(let error):
            clusterMetrics.record(shard: deferred.shard, messageType: deferred.tag, code: error.code)
            switch error.code.rawValue {
            case CounterError.overflowCode:
                response.error(.conflict, error.message)
            case CounterError.invalidAmountCode:
                response.error(.unprocessableContent, error.message)
            case RequestError.Code.deadlineExceeded.rawValue, RequestError.Code.outcomeUnknown.rawValue:
                response.error(.gatewayTimeout, "cluster error: \(error)")
            case RequestError.Code.noResponder.rawValue, RequestError.Code.disconnected.rawValue,
                RequestError.Code.transportClosed.rawValue, RequestError.Code.stopped.rawValue,
                RequestError.Code.mailboxFull.rawValue:
                response.error(.serviceUnavailable, "cluster error: \(error)")
            default:
                response.error(.internalServerError, "cluster error: \(error)")
            }
        }
    }
}

private func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
    let count = prefix.utf8CodeUnitCount
    guard bytes.count >= count else { return false }
    return memcmp(bytes.baseAddress!, prefix.utf8Start, count) == 0
}

#if canImport(Glibc)
    import Glibc
#endif
