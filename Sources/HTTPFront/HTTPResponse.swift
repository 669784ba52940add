import NIOCore

/// A response the service gives at once (the index page, a routing answer, an error).
///
/// Deferred responses (answers from the cluster) are rendered later through ``HTTPResponseBuilder``.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// The media type of the body.
    public var contentType: HTTPContentType
    /// The body.
    public var body: Body
    /// The value of an `Allow` header (405 responses), or nil.
    public var allow: String?

    /// A response body.
    public enum Body: Sendable {
        /// No body.
        case empty
        /// A constant.
        case staticText(StaticString)
        /// A string (UTF-8).
        case string(String)
        /// Encoded bytes.
        case bytes(ByteBuffer)
    }

    /// Creates a response.
    public init(status: HTTPStatus, contentType: HTTPContentType, body: Body, allow: String? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.allow = allow
    }

    /// A JSON error response: `{"error":"<message>"}` with the message escaped.
    /// - Parameters:
    ///   - status: the status.
    ///   - message: the error's description.
    ///   - allow: the `Allow` header of a 405.
    /// - Returns: the response.
    public static func error(_ status: HTTPStatus, _ message: String, allow: String? = nil) -> HTTPResponse {
        var json = JSONWriter()
        json.bytes.append(contentsOf: #"{"error":"#.utf8)
        json.writeString(message)
        json.bytes.append(UInt8(ascii: "}"))
        return HTTPResponse(
            status: status, contentType: .json, body: .string(String(decoding: json.bytes, as: UTF8.self)), allow: allow
        )
    }
}

/// The media types the front writes, each with its pre-encoded header line.
public enum HTTPContentType: Sendable, CaseIterable {
    case json
    case plainText
    case prometheus

    /// The position in `allCases`.
    var index: Int {
        switch self {
        case .json: 0
        case .plainText: 1
        case .prometheus: 2
        }
    }

    @usableFromInline
    var headerLine: StaticString {
        switch self {
        case .json: "Content-Type: application/json\r\n"
        case .plainText: "Content-Type: text/plain; charset=utf-8\r\n"
        case .prometheus: "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        }
    }
}

/// What a service fills in to render a deferred answer: status, media type and body bytes.
///
/// The body buffer is the connection's reused scratch buffer (cleared), so rendering allocates nothing.
public struct HTTPResponseBuilder {
    /// The status; 200 unless set.
    public var status: HTTPStatus = .ok
    /// The media type.
    public var contentType: HTTPContentType = .json
    /// The body; append to it.
    public var body: ByteBuffer
    /// The value of an `Allow` header, or nil.
    public var allow: String?

    @usableFromInline
    init(body: ByteBuffer) { self.body = body }

    /// Makes this an error response: `{"error":"<message>"}`, or `{"error":"<message>","code":"<code>"}`.
    /// - Parameters:
    ///   - status: the status.
    ///   - message: the message (escaped).
    ///   - code: a stable, machine-readable code (e.g. `unavailable`, `outcome_unknown`), or nil.
    public mutating func error(_ status: HTTPStatus, _ message: String, code: String? = nil) {
        self.status = status
        self.contentType = .json
        body.clear()
        body.writeStaticString(#"{"error":"#)
        body.writeJSONString(message)
        if let code {
            body.writeStaticString(#","code":"#)
            body.writeJSONString(code)
        }
        body.writeInteger(UInt8(ascii: "}"))
    }
}
