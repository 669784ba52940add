import NIOCore
import ClstrRuntime

/// An application served by ``HTTPServer``: routes requests, answers at once or later.
///
/// Both methods run on the connection's event loop. ``handle(_:exchange:)`` must either answer at once with
/// ``HTTPExchange/respond(_:route:)`` or defer with ``HTTPExchange/deferResponse(route:tag:key:)`` and start an
/// operation whose ``Outcome`` goes to the returned reply target; the connection then calls
/// ``render(_:for:into:)`` with that outcome (on its event loop, in request order).
public protocol HTTPService: AnyObject, Sendable {
    /// The route labels for metrics; a request's route is an index into this list.
    var routeNames: [String] { get }

    /// Handles one request.
    /// - Parameters:
    ///   - request: the request (views into the receive buffer, valid during the call).
    ///   - exchange: how to answer.
    func handle(_ request: HTTPRequest, exchange: HTTPExchange)

    /// Renders the answer of a deferred request.
    /// - Parameters:
    ///   - outcome: the outcome delivered to the reply target.
    ///   - deferred: what the service recorded when it deferred.
    ///   - response: the response to fill in (status, media type, body).
    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder)
}

/// What a service recorded about a deferred request, handed back with its outcome.
public struct HTTPDeferredRequest: Sendable {
    /// The route index.
    public var route: Int
    /// A service-defined tag (which operation it was).
    public var tag: Int
    /// A service-defined key (for example the counter ID to echo).
    public var key: String
    /// The connection's event-loop shard (for metrics kept per loop).
    public var shard: Int
}

/// Where an outcome for a deferred request goes: pass both to the operation that answers.
public struct HTTPReplyTarget: Sendable {
    /// The receiver (the connection; reused for all its requests).
    public let replyTo: any ReplyHandler
    /// The request's number on its connection.
    public let context: UInt64
}

/// The answer channel of one request; valid during ``HTTPService/handle(_:exchange:)``.
public struct HTTPExchange {
    // unowned(unsafe): an exchange lives only during `handle`, while the connection handler is alive and running
    // the call; skipping the reference count saves a retain/release pair per request.
    unowned(unsafe) let connection: HTTPSession
    let sequence: UInt64

    /// Answers at once.
    /// - Parameters:
    ///   - response: the response.
    ///   - route: the route index for metrics.
    public func respond(_ response: HTTPResponse, route: Int) {
        connection.complete(sequence: sequence, route: route, response: response)
    }

    /// Defers the answer: returns where the outcome must be delivered.
    /// - Parameters:
    ///   - route: the route index for metrics.
    ///   - tag: a service-defined tag given back to ``HTTPService/render(_:for:into:)``.
    ///   - key: a service-defined key given back likewise.
    /// - Returns: the reply target to pass to the operation (for example a cluster request).
    public func deferResponse(route: Int, tag: Int, key: String) -> HTTPReplyTarget {
        connection.deferResponse(sequence: sequence, route: route, tag: tag, key: key)
        return HTTPReplyTarget(replyTo: connection, context: sequence)
    }
}
