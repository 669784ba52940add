/// The request methods the front tells apart; anything else is ``other``.
public enum HTTPMethod: Sendable, Hashable {
    case get
    case head
    case post
    case put
    case delete
    case patch
    case options
    /// A syntactically valid method token the front does not know.
    case other

    /// The method's token (`GET`, `POST`, …; `OTHER` for ``other``).
    public var token: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .patch: "PATCH"
        case .options: "OPTIONS"
        case .other: "OTHER"
        }
    }

    /// Recognises a method token (case-sensitive, as RFC 9110 requires).
    /// - Parameter token: the bytes of the method.
    /// - Returns: the method, ``other`` for any other token.
    @inlinable
    static func recognise(_ token: UnsafeRawBufferPointer) -> HTTPMethod {
        switch token.count {
        case 3:
            if token[0] == 0x47, token[1] == 0x45, token[2] == 0x54 { return .get }  // GET
            if token[0] == 0x50, token[1] == 0x55, token[2] == 0x54 { return .put }  // PUT
        case 4:
            if token[0] == 0x50, token[1] == 0x4F, token[2] == 0x53, token[3] == 0x54 { return .post }  // POST
            if token[0] == 0x48, token[1] == 0x45, token[2] == 0x41, token[3] == 0x44 { return .head }  // HEAD
        case 5:
            if token.elementsEqual("PATCH".utf8) { return .patch }
        case 6:
            if token.elementsEqual("DELETE".utf8) { return .delete }
        case 7:
            if token.elementsEqual("OPTIONS".utf8) { return .options }
        default:
            break
        }
        return .other
    }
}
