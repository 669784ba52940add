import CNATS
import ClstrRuntime

/// A failed libnats call: its status, the call, and libnats' last error text for the calling thread.
public struct NATSError: Error, Sendable, CustomStringConvertible {
    /// The status the call returned.
    public var status: NATSStatus
    /// The libnats function that failed.
    public var operation: String
    /// libnats' detail (`nats_GetLastError`), when it has one.
    public var message: String
    /// The JetStream API error code (`jsErrCode`) the server gave, when the call has one.
    public var jetStreamCode: JetStreamErrorCode?

    /// Captures the calling thread's last libnats error text.
    /// - Parameters:
    ///   - status: the status the call returned.
    ///   - operation: the libnats function.
    public init(status: NATSStatus, operation: StaticString) {
        self.status = status
        self.operation = "\(operation)"
        var last = NATS_OK
        if let text = nats_GetLastError(&last) {
            self.message = String(cString: text)
        } else {
            self.message = status.description
        }
    }

    /// An error with the given text, for failures reported in a callback (where the thread's last error belongs
    /// to another call).
    init(status: NATSStatus, operation: StaticString, message: String, jetStreamCode: JetStreamErrorCode?) {
        self.status = status
        self.operation = "\(operation)"
        self.message = message
        self.jetStreamCode = jetStreamCode
    }

    /// Captures the calling thread's last libnats error text and the JetStream error code.
    /// - Parameters:
    ///   - status: the status the call returned.
    ///   - operation: the libnats function.
    ///   - jetStreamCode: the `jsErrCode` the call filled in (0: none).
    init(status: NATSStatus, operation: StaticString, jetStreamCode: jsErrCode) {
        self.init(status: status, operation: operation)
        if jetStreamCode.rawValue != 0 { self.jetStreamCode = JetStreamErrorCode(rawValue: jetStreamCode.rawValue) }
    }

    public var description: String {
        if let jetStreamCode {
            return "\(operation): \(status) (\(message); JetStream error \(jetStreamCode.rawValue))"
        }
        return "\(operation): \(status) (\(message))"
    }
}

extension RequestError.Code {
    /// A NATS failure that is none of the transport's named conditions (the message carries libnats' text).
    public static let transportFailed = RequestError.Code(rawValue: "transport_failed")
}

extension NATSStatus {
    /// The request error a caller sees when a libnats call fails with this status.
    var requestErrorCode: RequestError.Code {
        switch self {
        case .connectionClosed: return .transportClosed
        case .connectionDisconnected, .ioError, .staleConnection, .noServer, .notYetConnected, .insufficientBuffer:
            return .disconnected
        case .timeout: return .deadlineExceeded
        case .noResponders: return .noResponder
        case .maxPayload, .invalidSubject: return .badRequest
        default: return .transportFailed
        }
    }
}

extension RequestError {
    /// The request error for a failed libnats call.
    init(_ error: NATSError) {
        self.init(error.status.requestErrorCode, error.description, underlying: error)
    }

    /// The request error for a libnats status returned on the hot path (no last-error text lookup).
    init(status: NATSStatus, operation: StaticString) {
        self.init(status.requestErrorCode, "\(operation): \(status)")
    }
}
