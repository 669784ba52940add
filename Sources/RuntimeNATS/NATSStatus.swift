import CNATS

/// A libnats status code (`natsStatus`), as a Swift value.
///
/// Every libnats call returns one; ``check(_:)`` turns anything but ``ok`` into a thrown ``NATSError``.
/// The static members name the C constants they stand for.
public struct NATSStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric value of the C enum constant.
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    init(_ status: natsStatus) { self.rawValue = status.rawValue }

    /// The C value, for passing back to libnats.
    var cValue: natsStatus { natsStatus(rawValue: rawValue) }

    /// libnats' own text for the status (`natsStatus_GetText`).
    public var description: String { String(cString: natsStatus_GetText(cValue)) }

    /// `NATS_OK`: success.
    public static let ok = NATSStatus(NATS_OK)
    /// `NATS_ERR`: a generic error.
    public static let error = NATSStatus(NATS_ERR)
    /// `NATS_PROTOCOL_ERROR`: a protocol message could not be parsed.
    public static let protocolError = NATSStatus(NATS_PROTOCOL_ERROR)
    /// `NATS_IO_ERROR`: network communication failed.
    public static let ioError = NATSStatus(NATS_IO_ERROR)
    /// `NATS_CONNECTION_CLOSED`: the connection is closed.
    public static let connectionClosed = NATSStatus(NATS_CONNECTION_CLOSED)
    /// `NATS_NO_SERVER`: no server could be reached.
    public static let noServer = NATSStatus(NATS_NO_SERVER)
    /// `NATS_STALE_CONNECTION`: the server closed the connection for missed PONGs.
    public static let staleConnection = NATSStatus(NATS_STALE_CONNECTION)
    /// `NATS_SECURE_CONNECTION_WANTED`: TLS was requested but the server does not offer it.
    public static let secureConnectionWanted = NATSStatus(NATS_SECURE_CONNECTION_WANTED)
    /// `NATS_SECURE_CONNECTION_REQUIRED`: the server requires TLS.
    public static let secureConnectionRequired = NATSStatus(NATS_SECURE_CONNECTION_REQUIRED)
    /// `NATS_CONNECTION_DISCONNECTED`: the connection was lost (it may reconnect).
    public static let connectionDisconnected = NATSStatus(NATS_CONNECTION_DISCONNECTED)
    /// `NATS_CONNECTION_AUTH_FAILED`: authentication failed.
    public static let authenticationFailed = NATSStatus(NATS_CONNECTION_AUTH_FAILED)
    /// `NATS_NOT_PERMITTED`: the action is not permitted.
    public static let notPermitted = NATSStatus(NATS_NOT_PERMITTED)
    /// `NATS_NOT_FOUND`: something was not found.
    public static let notFound = NATSStatus(NATS_NOT_FOUND)
    /// `NATS_ADDRESS_MISSING`: a URL without a host.
    public static let addressMissing = NATSStatus(NATS_ADDRESS_MISSING)
    /// `NATS_INVALID_SUBJECT`: an invalid subject (empty, or with bad characters).
    public static let invalidSubject = NATSStatus(NATS_INVALID_SUBJECT)
    /// `NATS_INVALID_ARG`: an invalid argument.
    public static let invalidArgument = NATSStatus(NATS_INVALID_ARG)
    /// `NATS_INVALID_SUBSCRIPTION`: the subscription is closed or of the wrong kind.
    public static let invalidSubscription = NATSStatus(NATS_INVALID_SUBSCRIPTION)
    /// `NATS_INVALID_TIMEOUT`: a timeout that is not positive.
    public static let invalidTimeout = NATSStatus(NATS_INVALID_TIMEOUT)
    /// `NATS_ILLEGAL_STATE`: the call is not valid in the object's state.
    public static let illegalState = NATSStatus(NATS_ILLEGAL_STATE)
    /// `NATS_SLOW_CONSUMER`: a subscription's pending limit was reached and messages were dropped.
    public static let slowConsumer = NATSStatus(NATS_SLOW_CONSUMER)
    /// `NATS_MAX_PAYLOAD`: the message is larger than the server's `max_payload`.
    public static let maxPayload = NATSStatus(NATS_MAX_PAYLOAD)
    /// `NATS_MAX_DELIVERED_MSGS`: the subscription's auto-unsubscribe limit was reached.
    public static let maxDeliveredMessages = NATSStatus(NATS_MAX_DELIVERED_MSGS)
    /// `NATS_INSUFFICIENT_BUFFER`: a buffer (for example the reconnect buffer) is full.
    public static let insufficientBuffer = NATSStatus(NATS_INSUFFICIENT_BUFFER)
    /// `NATS_NO_MEMORY`: out of memory.
    public static let noMemory = NATSStatus(NATS_NO_MEMORY)
    /// `NATS_SYS_ERROR`: a system call failed.
    public static let systemError = NATSStatus(NATS_SYS_ERROR)
    /// `NATS_TIMEOUT`: the operation timed out.
    public static let timeout = NATSStatus(NATS_TIMEOUT)
    /// `NATS_FAILED_TO_INITIALIZE`: the library could not initialise.
    public static let failedToInitialize = NATSStatus(NATS_FAILED_TO_INITIALIZE)
    /// `NATS_NOT_INITIALIZED`: the library is not initialised.
    public static let notInitialized = NATSStatus(NATS_NOT_INITIALIZED)
    /// `NATS_SSL_ERROR`: a TLS error.
    public static let sslError = NATSStatus(NATS_SSL_ERROR)
    /// `NATS_NO_SERVER_SUPPORT`: the server does not support the action.
    public static let noServerSupport = NATSStatus(NATS_NO_SERVER_SUPPORT)
    /// `NATS_NOT_YET_CONNECTED`: the connection is not established yet.
    public static let notYetConnected = NATSStatus(NATS_NOT_YET_CONNECTED)
    /// `NATS_DRAINING`: the connection or subscription is draining.
    public static let draining = NATSStatus(NATS_DRAINING)
    /// `NATS_INVALID_QUEUE_NAME`: an invalid queue group name.
    public static let invalidQueueName = NATSStatus(NATS_INVALID_QUEUE_NAME)
    /// `NATS_NO_RESPONDERS`: nobody was subscribed to the request's subject.
    public static let noResponders = NATSStatus(NATS_NO_RESPONDERS)
    /// `NATS_MISMATCH`: a JetStream consumer sequence mismatch.
    public static let mismatch = NATSStatus(NATS_MISMATCH)
    /// `NATS_MISSED_HEARTBEAT`: JetStream heartbeats were missed.
    public static let missedHeartbeat = NATSStatus(NATS_MISSED_HEARTBEAT)

    /// Throws unless `self` is ``ok``.
    /// - Parameter operation: the libnats call, for the error's message.
    /// - Throws: ``NATSError`` with this status and libnats' last error text.
    @inlinable
    public func check(_ operation: StaticString) throws(NATSError) {
        if self != .ok { throw NATSError(status: self, operation: operation) }
    }
}
