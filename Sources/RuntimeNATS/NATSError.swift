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

    public var description: String { "\(operation): \(status) (\(message))" }
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
