/// The error a request ends with when it gets no reply value: from an actor, a node, or a transport.
///
/// The ``Code`` says which failure it was; codes survive a trip across a transport (only the code and the
/// message travel; ``underlying`` stays in the process that raised it).
public struct RequestError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The mailbox had no room and the caller asked to fail at once.
        public static let mailboxFull = Code(rawValue: "mailbox_full")
        /// The actor was stopped (or passivated) before it handled the message.
        public static let stopped = Code(rawValue: "actor_stopped")
        /// The request's deadline passed before it was handled or answered.
        public static let deadlineExceeded = Code(rawValue: "deadline_exceeded")
        /// The actor has no handler for the message's type.
        public static let noHandler = Code(rawValue: "no_handler")
        /// The handler threw; the message says what it threw.
        public static let handlerFailed = Code(rawValue: "handler_failed")
        /// The reply value did not have the type the requester expected.
        public static let replyTypeMismatch = Code(rawValue: "reply_type_mismatch")
        /// No node serves the request's shard (nothing subscribed, or no responders on NATS).
        public static let noResponder = Code(rawValue: "no_responder")
        /// The transport was closed by this process.
        public static let transportClosed = Code(rawValue: "transport_closed")
        /// The transport has no connection (a NATS outage) and the request was **not sent**: nothing was applied,
        /// and it may be retried once the connection is back.
        public static let disconnected = Code(rawValue: "disconnected")
        /// The request was sent, and its reply can no longer arrive (the connection was lost or the transport
        /// closed while it was in flight): it **may or may not have been applied**. Never report such a request
        /// as not done; a client retries it only if it is idempotent (or carries an idempotency key). A passed
        /// deadline (``deadlineExceeded``) is the other outcome that leaves the effect unknown.
        public static let outcomeUnknown = Code(rawValue: "outcome_unknown")
        /// The request or reply could not be encoded or decoded.
        public static let codec = Code(rawValue: "codec")
        /// The request was malformed (bad shard, reserved header, missing key).
        public static let badRequest = Code(rawValue: "bad_request")
    }

    public var code: Code
    public var message: String
    /// The error the handler threw, when it was thrown in this process.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "\(code): \(message)" }
}

/// An error a handler can throw to choose the code and message its requester sees.
///
/// Any other thrown error reaches the requester as ``RequestError/Code/handlerFailed`` with the error's
/// description as the message.
public protocol CodedError: Error, Sendable {
    var code: String { get }
    var message: String { get }
}

extension RequestError {
    static func from(handlerError error: any Error) -> RequestError {
        if let actorError = error as? RequestError { return actorError }
        if let coded = error as? any CodedError {
            return RequestError(Code(rawValue: coded.code), coded.message, underlying: error)
        }
        return RequestError(.handlerFailed, String(describing: error), underlying: error)
    }
}
