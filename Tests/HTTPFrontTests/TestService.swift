import HTTPFront
import NIOCore
import ClstrRuntime
import Synchronization

/// A service for the connection tests: `/now` answers at once; `/later/<n>` defers, and the test delivers the
/// outcome (in any order, from any thread); `/echo` answers with the request body.
final class TestService: HTTPService {
    let routeNames = ["now", "later", "echo", "not_found"]
    let pending = Locked<[(target: HTTPReplyTarget, value: Int)]>([])

    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange) {
        let path = request.withPath { String(decoding: $0, as: UTF8.self) }
        if path == "/now" {
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .plainText, body: .staticText("now")), route: 0)
        }
        if path == "/echo" {
            return exchange.respond(
                HTTPResponse(status: .ok, contentType: .plainText, body: .bytes(request.body)), route: 2)
        }
        if path.hasPrefix("/later/"), let value = Int(path.dropFirst(7)) {
            let target = exchange.deferResponse(route: 1, key: "k\(value)")
            pending.withLock { $0.append((target, value)) }
            return
        }
        exchange.respond(.error(.notFound, "not found"), route: 3)
    }

    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder) {
        switch outcome.get(as: Int.self) {
        case .success(let value):
            response.contentType = .plainText
            response.body.writeString("\(deferred.key)=\(value)")
        case .failure(let error):
            response.error(.serviceUnavailable, error.message)
        }
    }

    /// Delivers the outcome of the pending request whose value is `value`.
    func complete(_ value: Int) {
        let entry = pending.withLock { list -> (target: HTTPReplyTarget, value: Int)? in
            guard let index = list.firstIndex(where: { $0.value == value }) else { return nil }
            return list.remove(at: index)
        }
        if let entry { entry.target.replyTo.deliver(.success(entry.value * 10), context: entry.target.context) }
    }

    var pendingCount: Int { pending.withLock { $0.count } }
}
