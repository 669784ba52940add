import NIOCore
import ClstrRuntime

/// An application served by ``HTTPServer`` or `EpollHTTPServer`: routes requests, answers at once or later.
///
/// Both methods run on the connection's event loop. ``handle(_:exchange:)`` must either answer at once with
/// ``HTTPExchange/respond(_:route:)`` or defer with ``HTTPExchange/deferResponse(route:key:)`` and start an
/// operation whose ``Outcome`` goes to the returned reply target; the connection then calls
/// ``render(_:for:into:)`` with that outcome (on its event loop, in request order).
public protocol HTTPService: AnyObject, Sendable {
    /// The route labels for metrics; a request's route is an index into this list (``HTTPRouter/routeNames``).
    var routeNames: [String] { get }

    /// Handles one request.
    /// - Parameters:
    ///   - request: the request (views into the receive buffer, valid during the call).
    ///   - exchange: how to answer (borrowed: it cannot outlive the call).
    func handle(_ request: HTTPRequest, exchange: borrowing HTTPExchange)

    /// Renders the answer of a deferred request.
    /// - Parameters:
    ///   - outcome: the outcome delivered to the reply target.
    ///   - deferred: what the service recorded when it deferred.
    ///   - response: the response to fill in (status, media type, body).
    func render(_ outcome: Outcome, for deferred: HTTPDeferredRequest, into response: inout HTTPResponseBuilder)
}

/// What a service recorded about a deferred request, handed back with its outcome.
public struct HTTPDeferredRequest: Sendable {
    /// The route index (which operation it was).
    public var route: Int
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

/// The answer channel of one request, lent to ``HTTPService/handle(_:exchange:)``.
///
/// Not copyable, and only ever borrowed by the service: the compiler rejects keeping it past `handle` (storing
/// it, capturing it in an escaping closure), so its connection cannot be gone when it is used.
public struct HTTPExchange: ~Copyable {
    // unowned(unsafe): the connection calls `handle` on itself with an exchange it lends (`borrowing`), so the
    // connection is alive for as long as the exchange can be used; a deferred answer reaches the connection through
    // `HTTPReplyTarget.replyTo`, a strong reference. Skipping the reference count saves a retain/release pair per
    // request.
    unowned(unsafe) let connection: any HTTPExchangeTarget
    let sequence: UInt64

    init(connection: any HTTPExchangeTarget, sequence: UInt64) {
        self.connection = connection
        self.sequence = sequence
    }

    /// Answers at once.
    /// - Parameters:
    ///   - response: the response.
    ///   - route: the route index for metrics.
    public func respond(_ response: HTTPResponse, route: Int) {
        connection.complete(sequence: sequence, route: route, response: response)
    }

    /// A path parameter's decoded text as a `String`, for an operation that needs one (a cluster key). The
    /// connection keeps the last few it made and returns the same one for the same bytes, so that a client that
    /// sends the same long ID again costs no allocation.
    /// - Parameter parameter: a parameter of this request's path.
    /// - Returns: the text, or nil when an escape is malformed or the result is not valid UTF-8.
    public func string(for parameter: HTTPPathParameter) -> String? {
        parameter.withDecoded { connection.string($0) }
    }

    /// Defers the answer: returns where the outcome must be delivered.
    /// - Parameters:
    ///   - route: the route index, for metrics and given back to ``HTTPService/render(_:for:into:)``.
    ///   - key: a service-defined key given back likewise.
    /// - Returns: the reply target to pass to the operation (for example a cluster request).
    public func deferResponse(route: Int, key: String) -> HTTPReplyTarget {
        connection.deferResponse(sequence: sequence, route: route, key: key)
        return HTTPReplyTarget(replyTo: connection, context: sequence)
    }
}
