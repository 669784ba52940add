/// An HTTP status code with its pre-encoded status line.
///
/// The status lines of the codes the front uses are encoded once; a response copies them into the output buffer.
public struct HTTPStatus: Sendable, Hashable, CustomStringConvertible {
    /// The numeric code.
    public let code: Int

    /// Creates a status from its code.
    public init(code: Int) { self.code = code }

    public var description: String { String(code) }

    public static let ok = HTTPStatus(code: 200)
    public static let badRequest = HTTPStatus(code: 400)
    public static let notFound = HTTPStatus(code: 404)
    public static let methodNotAllowed = HTTPStatus(code: 405)
    public static let requestTimeout = HTTPStatus(code: 408)
    public static let conflict = HTTPStatus(code: 409)
    public static let lengthRequired = HTTPStatus(code: 411)
    public static let payloadTooLarge = HTTPStatus(code: 413)
    public static let uriTooLong = HTTPStatus(code: 414)
    public static let unprocessableContent = HTTPStatus(code: 422)
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431)
    public static let internalServerError = HTTPStatus(code: 500)
    public static let notImplemented = HTTPStatus(code: 501)
    public static let badGateway = HTTPStatus(code: 502)
    public static let serviceUnavailable = HTTPStatus(code: 503)
    public static let gatewayTimeout = HTTPStatus(code: 504)
    public static let httpVersionNotSupported = HTTPStatus(code: 505)

    /// The reason phrase of the codes above ("Unknown" otherwise).
    public var reasonPhrase: String {
        switch code {
        case 100: "Continue"
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 422: "Unprocessable Content"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// The codes with a slot of their own in the request counters; others count under ``otherIndex``.
    public static let counted: [Int] = [200, 400, 404, 405, 409, 411, 413, 414, 422, 431, 500, 501, 502, 503, 504, 505]

    /// The counter slot of this status (an index into ``counted``, or ``otherIndex``).
    @inlinable
    public var counterIndex: Int {
        switch code {
        case 200: 0
        case 400: 1
        case 404: 2
        case 405: 3
        case 409: 4
        case 411: 5
        case 413: 6
        case 414: 7
        case 422: 8
        case 431: 9
        case 500: 10
        case 501: 11
        case 502: 12
        case 503: 13
        case 504: 14
        case 505: 15
        default: HTTPStatus.otherIndex
        }
    }

    /// The counter slot of codes not listed in ``counted``.
    public static let otherIndex = 16
}
