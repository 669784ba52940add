import NIOCore

/// The immutable, shareable part of a run that every event loop reads.
struct EngineConfiguration: Sendable {
    /// The request bytes (or segments with placeholders).
    let template: RequestTemplate
    /// Where connections go (the target, or the proxy).
    let address: SocketAddress
    /// `host:port` for dial error messages.
    let dialTarget: String
    /// Whether the method is HEAD (responses then have no body).
    let isHead: Bool
    /// Whether the method may be resent when a reused connection was closed before answering (as Go does).
    let idempotent: Bool
    /// Whole-request timeout, ns (0 = none).
    let timeoutNs: UInt64
    /// `-disable-keepalive`.
    let disableKeepAlive: Bool
    /// Prefix of every error message, Go style: `Get "http://…": `.
    let errorPrefix: String
    /// Whether to keep a corrected histogram (`--rate`).
    let corrected: Bool
    /// Where `-o csv` rows go (nil = no CSV).
    let csvSink: OutputSink?

    /// The Go-style prefix for errors of `method` on `url`: `Get "http://host/path": `.
    /// - Parameters:
    ///   - method: the HTTP method.
    ///   - url: the URL as given.
    /// - Returns: the prefix.
    static func errorPrefix(method: String, url: String) -> String {
        let title = method.prefix(1).uppercased() + method.dropFirst().lowercased()
        return "\(title) \"\(url)\": "
    }
}
