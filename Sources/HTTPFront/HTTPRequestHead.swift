/// What the parser extracts from a request's head: enough to route and frame the request, nothing allocated.
///
/// Offsets are relative to the first byte of the request (the reader index of the buffer that was parsed).
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method.
    public var method: HTTPMethod
    /// Offset of the request target (origin form, `/path?query`).
    public var targetOffset: Int
    /// Length of the request target in bytes.
    public var targetLength: Int
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Whether the connection stays open after this request (version default, then `Connection`).
    public var keepAlive: Bool
    /// The body length from `Content-Length` (0 when absent or chunked).
    public var contentLength: Int
    /// Whether the client sent `Expect: 100-continue`.
    public var expectsContinue: Bool
    /// The length of the head: request line, header lines and the empty line.
    public var headLength: Int
    /// Offset and length of the `Idempotency-Key` header's value (trimmed); length -1 when absent.
    public var idempotencyKeyOffset: Int = 0
    public var idempotencyKeyLength: Int = -1
    /// Whether the body is chunked (`Transfer-Encoding: chunked`; decode it with ``HTTPChunkedDecoder``).
    public var chunked: Bool

    public init(
        method: HTTPMethod, targetOffset: Int, targetLength: Int, minorVersion: Int, keepAlive: Bool,
        contentLength: Int, expectsContinue: Bool, headLength: Int, chunked: Bool = false
    ) {
        self.chunked = chunked
        self.method = method
        self.targetOffset = targetOffset
        self.targetLength = targetLength
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
        self.contentLength = contentLength
        self.expectsContinue = expectsContinue
        self.headLength = headLength
    }
}

/// Why a request was refused before it reached the service; the connection is closed after the answer.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status to answer with (400, 408, 413, 414, 431, 501, 505).
    public var status: HTTPStatus
    /// A constant description (it goes into the JSON error body).
    public var message: String

    public init(_ status: HTTPStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.code) \(message)" }
}
