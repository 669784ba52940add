// The request parser as it was at 6f3975f (byte-at-a-time scans, a table of token bytes), kept as the reference
// that `HTTPRequestParserDifferentialTests` holds the faster parser to: every input must get the same result.
@testable import HTTPFront

/// Parses HTTP/1.1 request heads straight from received bytes, allocating nothing.
///
/// The parser is fed the unparsed bytes of a connection (from the first byte of the next request) as often as
/// new bytes arrive; it remembers how far it looked for the end of the head, so feeding one byte at a time stays
/// linear. It is strict: anything RFC 9112 does not allow is refused with 400 (then the connection closes), and
/// the limits of ``HTTPLimits`` are enforced (414, 431, 413). `Transfer-Encoding: chunked` bodies are framed by
/// ``HTTPChunkedDecoder`` (``HTTPRequestHead/chunked``). RFC 9112 §6.3: `Transfer-Encoding` with `Content-Length`,
/// in HTTP/1.0, or without `chunked` as its final coding is refused with 400 (the body's end cannot be found
/// reliably: request smuggling); `chunked` after another coding (`gzip, chunked`) with 501 (§6.1: a coding the
/// server does not understand).
struct ReferenceRequestParser: Sendable {
    /// The limits enforced.
    var limits: HTTPLimits
    /// How many leading bytes of the current request were already searched for the end of the head.
    var scanned = 0

    /// The result of one attempt.
    enum Result: Sendable, Equatable {
        /// The head is not complete yet.
        case needMore
        /// A complete, valid head (the body may still be incomplete: compare `headLength + contentLength`).
        case head(HTTPRequestHead)
        /// The request is refused; answer with the error's status and close.
        case failure(HTTPParseError)
    }

    /// Creates a parser.
    /// - Parameter limits: the bounds to enforce.
    init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets the progress of the current request (after it was consumed).

    mutating func reset() { scanned = 0 }

    /// Parses the head of the request at the start of `bytes`.
    /// - Parameter bytes: the unparsed bytes, starting with the request's first byte.
    /// - Returns: ``Result/needMore``, the head, or the error to answer with.
    mutating func parseHead(_ bytes: UnsafeRawBufferPointer) -> Result {
        let count = bytes.count
        // Find the empty line that ends the head: "\n\r\n" or "\n\n".
        var index = max(0, scanned - 2)
        var headEnd = -1
        let searchLimit = min(count, limits.maxHeadBytes + 1)
        while index < searchLimit {
            if bytes[index] == lf {
                if index == 0 || (index == 1 && bytes[0] == cr) {
                    return .failure(HTTPParseError(.badRequest, "empty request line"))
                }
                if bytes[index - 1] == lf || (bytes[index - 1] == cr && index >= 2 && bytes[index - 2] == lf) {
                    headEnd = index + 1
                    break
                }
            }
            index += 1
        }
        if headEnd < 0 {
            scanned = searchLimit
            if count > limits.maxHeadBytes {
                return .failure(
                    HTTPParseError(
                        .requestHeaderFieldsTooLarge, "request head larger than \(limits.maxHeadBytes) bytes"))
            }
            return .needMore
        }
        if headEnd > limits.maxHeadBytes {
            return .failure(
                HTTPParseError(.requestHeaderFieldsTooLarge, "request head larger than \(limits.maxHeadBytes) bytes"))
        }
        return parseComplete(UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd]))
    }

    /// Parses a complete head (ending with the empty line).
    private func parseComplete(_ head: UnsafeRawBufferPointer) -> Result {
        // Request line.
        var lineEnd = 0
        while head[lineEnd] != lf { lineEnd += 1 }
        let next = lineEnd + 1
        if lineEnd > 0 && head[lineEnd - 1] == cr { lineEnd -= 1 }
        var position = 0
        while position < lineEnd && isTokenByte(head[position]) { position += 1 }
        if position == 0 || position > 24 || position >= lineEnd || head[position] != space {
            return .failure(HTTPParseError(.badRequest, "malformed request line"))
        }
        let method = HTTPMethod.recognise(UnsafeRawBufferPointer(rebasing: head[0..<position]))
        let targetOffset = position + 1
        position = targetOffset
        while position < lineEnd && head[position] > space && head[position] < 0x7F { position += 1 }
        let targetLength = position - targetOffset
        if targetLength == 0 || position >= lineEnd || head[position] != space {
            return .failure(HTTPParseError(.badRequest, "malformed request line"))
        }
        if head[targetOffset] != slash {
            return .failure(HTTPParseError(.badRequest, "request target must be a path"))
        }
        if targetLength > limits.maxTargetBytes {
            return .failure(HTTPParseError(.uriTooLong, "request target longer than \(limits.maxTargetBytes) bytes"))
        }
        let versionOffset = position + 1
        guard lineEnd - versionOffset == 8, head[versionOffset] == 0x48, head[versionOffset + 1] == 0x54,
            head[versionOffset + 2] == 0x54, head[versionOffset + 3] == 0x50, head[versionOffset + 4] == slash,
            isDigit(head[versionOffset + 5]), head[versionOffset + 6] == 0x2E, isDigit(head[versionOffset + 7])
        else {
            return .failure(HTTPParseError(.badRequest, "malformed HTTP version"))
        }
        let major = head[versionOffset + 5] - 0x30
        let minor = head[versionOffset + 7] - 0x30
        if major != 1 || minor > 1 {
            return .failure(HTTPParseError(.httpVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported"))
        }

        // Header lines.
        var contentLength = -1
        var close = false
        var keepAliveToken = false
        var transferEncoding = false
        var chunkedLast = false
        var chunkedCount = 0
        var otherCodings = 0
        var expectsContinue = false
        var idempotencyKey = (offset: 0, length: -1)
        var lineStart = next
        while true {
            var end = lineStart
            while head[end] != lf { end += 1 }
            let following = end + 1
            if end > lineStart && head[end - 1] == cr { end -= 1 }
            if end == lineStart { break }  // the empty line
            let first = head[lineStart]
            if first == space || first == tab {
                return .failure(HTTPParseError(.badRequest, "obsolete line folding in headers"))
            }
            var colon = lineStart
            while colon < end && isTokenByte(head[colon]) { colon += 1 }
            if colon == lineStart || colon >= end || head[colon] != 0x3A {
                return .failure(HTTPParseError(.badRequest, "malformed header line"))
            }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd && (head[valueStart] == space || head[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (head[valueEnd - 1] == space || head[valueEnd - 1] == tab) { valueEnd -= 1 }
            for offset in valueStart..<valueEnd {
                let byte = head[offset]
                if (byte < space && byte != tab) || byte == 0x7F {
                    return .failure(HTTPParseError(.badRequest, "invalid character in header value"))
                }
            }
            let name = UnsafeRawBufferPointer(rebasing: head[lineStart..<colon])
            let value = UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd])
            switch name.count {
            case 14 where equalsLowercase(name, "content-length"):
                guard let parsed = parseContentLength(value) else {
                    return .failure(HTTPParseError(.badRequest, "invalid Content-Length"))
                }
                if contentLength >= 0 && contentLength != parsed {
                    return .failure(HTTPParseError(.badRequest, "conflicting Content-Length headers"))
                }
                contentLength = parsed
            case 10 where equalsLowercase(name, "connection"):
                forEachToken(value) { token in
                    if token.count == 5 && equalsLowercase(token, "close") { close = true }
                    if token.count == 10 && equalsLowercase(token, "keep-alive") { keepAliveToken = true }
                }
            case 17 where equalsLowercase(name, "transfer-encoding"):
                // Several fields form one list (RFC 9110 §5.3): the codings in order, chunked last.
                transferEncoding = true
                forEachToken(value) { token in
                    chunkedLast = token.count == 7 && equalsLowercase(token, "chunked")
                    if chunkedLast { chunkedCount += 1 } else { otherCodings += 1 }
                }
            case 15 where equalsLowercase(name, "idempotency-key"):
                idempotencyKey = (valueStart, valueEnd - valueStart)
            case 6 where equalsLowercase(name, "expect"):
                if value.count == 12 && equalsLowercase(value, "100-continue") { expectsContinue = true }
            default:
                break
            }
            lineStart = following
        }
        if transferEncoding {
            if contentLength >= 0 {
                return .failure(HTTPParseError(.badRequest, "Transfer-Encoding together with Content-Length"))
            }
            if minor == 0 {
                return .failure(HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request"))
            }
            if !chunkedLast || chunkedCount != 1 {
                return .failure(HTTPParseError(.badRequest, "chunked must be the final transfer coding, once"))
            }
            if otherCodings > 0 {
                return .failure(HTTPParseError(.notImplemented, "unsupported transfer coding"))
            }
        }
        let length = max(0, contentLength)
        if length > limits.maxBodyBytes {
            return .failure(HTTPParseError(.payloadTooLarge, "body larger than \(limits.maxBodyBytes) bytes"))
        }
        var parsed = HTTPRequestHead(
            method: method, targetOffset: targetOffset, targetLength: targetLength, minorVersion: Int(minor),
            keepAlive: minor == 1 ? !close : (keepAliveToken && !close), contentLength: length,
            expectsContinue: expectsContinue, headLength: head.count, chunked: transferEncoding)
        parsed.idempotencyKeyOffset = idempotencyKey.offset
        parsed.idempotencyKeyLength = idempotencyKey.length
        return .head(parsed)
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

/// Whether `byte` may appear in a token (RFC 9110 `tchar`).

private func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

private let tokenTable: [Bool] = (0..<256).map { value in
    let byte = UInt8(value)
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    default: return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

/// Compares ASCII case-insensitively with a lowercase literal of the same length (letters, digits, '-').
private func equalsLowercase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
    guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
    let expected = lowercase.utf8Start
    for index in 0..<bytes.count {
        var byte = bytes[index]
        if byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
        if byte != expected[index] { return false }
    }
    return true
}

/// Calls `body` with each comma-separated token of a header value, trimmed of spaces and tabs.
private func forEachToken(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
    var start = 0
    while start <= value.count {
        var end = start
        while end < value.count && value[end] != 0x2C { end += 1 }
        var tokenStart = start
        var tokenEnd = end
        while tokenStart < tokenEnd && (value[tokenStart] == space || value[tokenStart] == tab) { tokenStart += 1 }
        while tokenEnd > tokenStart && (value[tokenEnd - 1] == space || value[tokenEnd - 1] == tab) { tokenEnd -= 1 }
        if tokenEnd > tokenStart { body(UnsafeRawBufferPointer(rebasing: value[tokenStart..<tokenEnd])) }
        start = end + 1
    }
}

/// Parses a Content-Length value: 1 to 18 decimal digits.
private func parseContentLength(_ value: UnsafeRawBufferPointer) -> Int? {
    guard value.count >= 1 && value.count <= 18 else { return nil }
    var result = 0
    for byte in value {
        guard isDigit(byte) else { return nil }
        result = result * 10 + Int(byte - 0x30)
    }
    return result
}
