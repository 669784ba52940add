#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import NIOCore
import NIOPosix

/// Turns transport errors into the short, stable texts of the error distribution (Go's wording where hey has one).
enum ErrorText {
    /// Describes `error`.
    /// - Parameters:
    ///   - error: what NIO reported.
    ///   - dialTarget: `host:port` of the connection.
    ///   - connecting: whether the error happened while connecting.
    /// - Returns: e.g. `dial tcp 127.0.0.1:9: connect: connection refused`.
    static func describe(_ error: any Error, dialTarget: String, connecting: Bool) -> String {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first {
                return describe(first.error, dialTarget: dialTarget, connecting: true)
            }
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return "dial tcp: lookup \(dialTarget): \(dns)"
            }
            return "dial tcp \(dialTarget): connect failed"
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout:
                return "dial tcp \(dialTarget): i/o timeout"
            case .eof:
                return "EOF"
            default:
                return connecting ? "dial tcp \(dialTarget): \(error)" : "read tcp \(dialTarget): \(error)"
            }
        }
        if let error = error as? IOError {
            let text = errnoText(error.errnoCode)
            return connecting ? "dial tcp \(dialTarget): connect: \(text)" : "read tcp \(dialTarget): \(text)"
        }
        return connecting ? "dial tcp \(dialTarget): \(error)" : "\(error)"
    }

    /// The C library's text for `code`, first letter lower-cased as Go prints it.
    /// - Parameter code: an errno value.
    /// - Returns: e.g. `connection refused`.
    static func errnoText(_ code: Int32) -> String {
        guard let raw = strerror(code) else { return "errno \(code)" }
        let text = String(cString: raw)
        guard let first = text.first else { return text }
        return first.lowercased() + text.dropFirst()
    }
}
