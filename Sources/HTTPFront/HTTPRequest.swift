import NIOCore

/// One parsed request as a service sees it: views into the received bytes, nothing copied.
///
/// `target` and `body` share the connection's receive buffer; use them during ``HTTPService/handle(_:exchange:)``
/// only (copy what must outlive the call, such as a key).
public struct HTTPRequest {
    /// The method.
    public var method: HTTPMethod
    /// The raw request target (`/path?query`), not decoded.
    public var target: ByteBuffer
    /// The body (`Content-Length` bytes; empty when there is none).
    public var body: ByteBuffer
    /// Whether the connection stays open after the answer.
    public var keepAlive: Bool
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The `Idempotency-Key` header's value (a view like `target`), or nil when the request has none.
    public var idempotencyKey: ByteBuffer?

    public init(method: HTTPMethod, target: ByteBuffer, body: ByteBuffer, keepAlive: Bool = true, minorVersion: Int = 1)
    {
        self.method = method
        self.target = target
        self.body = body
        self.keepAlive = keepAlive
        self.minorVersion = minorVersion
    }

    /// Calls `body` with the path part of the target (up to `?` or `#`).
    /// - Parameter body: receives the raw (still percent-encoded) path bytes.
    /// - Returns: what `body` returns.
    @inlinable
    public func withPath<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try target.withUnsafeReadableBytes { raw in
            var end = 0
            while end < raw.count && raw[end] != UInt8(ascii: "?") && raw[end] != UInt8(ascii: "#") { end += 1 }
            return try body(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        }
    }
}
