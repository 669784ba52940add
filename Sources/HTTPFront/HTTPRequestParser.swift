#if canImport(Glibc)
    import Glibc
#endif

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
public struct HTTPRequestParser: Sendable {
    /// The limits enforced.
    public var limits: HTTPLimits
    /// How many leading bytes of the current request were already searched for the end of the head.
    @usableFromInline var scanned = 0

    /// The result of one attempt.
    public enum Result: Sendable, Equatable {
        /// The head is not complete yet.
        case needMore
        /// A complete, valid head (the body may still be incomplete: compare `headLength + contentLength`).
        case head(HTTPRequestHead)
        /// The request is refused; answer with the error's status and close.
        case failure(HTTPParseError)
    }

    /// Creates a parser.
    /// - Parameter limits: the bounds to enforce.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Forgets the progress of the current request (after it was consumed).
    @inlinable
    public mutating func reset() { scanned = 0 }

    /// Parses the head of the request at the start of `bytes`.
    /// - Parameter bytes: the unparsed bytes, starting with the request's first byte.
    /// - Returns: ``Result/needMore``, the head, or the error to answer with.
    public mutating func parseHead(_ bytes: UnsafeRawBufferPointer) -> Result {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else {
            scanned = 0
            return .needMore
        }
        // Find the empty line that ends the head: "\n\r\n" or "\n\n". memchr hops from line feed to line feed
        // (glibc's is vectorised); only a line feed needs a look at the bytes before it.
        var index = max(0, scanned - 2)
        var headEnd = -1
        let searchLimit = min(count, limits.maxHeadBytes + 1)
        while index < searchLimit {
            guard let found = memchr(base + index, Int32(lf), searchLimit - index) else { break }
            index = UnsafeRawPointer(found) - base
            if index == 0 || (index == 1 && bytes[0] == cr) {
                return .failure(HTTPParseError(.badRequest, "empty request line"))
            }
            if bytes[index - 1] == lf || (bytes[index - 1] == cr && index >= 2 && bytes[index - 2] == lf) {
                headEnd = index + 1
                break
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
    ///
    /// One pass over each line, and no per-byte work beyond what validation needs: line ends are found with
    /// memchr, token bytes are checked against two 64-bit masks (a global table costs a `swift_once` per byte),
    /// header values are checked eight bytes at a time, and a header name is told apart by its length, then a
    /// word-at-a-time comparison with the known names of that length; a known name (Host, User-Agent,
    /// Content-Length…) needs no byte-by-byte token check.
    private func parseComplete(_ head: UnsafeRawBufferPointer) -> Result {
        let base = head.baseAddress!
        // Request line (the head ends with a line feed, so every line has one).
        var lineEnd = lineFeed(in: head, from: 0)
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
        while position < lineEnd && head[position] &- 0x21 < 0x5E { position += 1 }  // 0x21…0x7E
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
            var end = lineFeed(in: head, from: lineStart)
            let following = end + 1
            if end > lineStart && head[end - 1] == cr { end -= 1 }
            if end == lineStart { break }  // the empty line
            let first = head[lineStart]
            if first == space || first == tab {
                return .failure(HTTPParseError(.badRequest, "obsolete line folding in headers"))
            }
            // The name ends at the line's first colon. One of the fields below is letters and '-' only, so it needs
            // no byte-by-byte token check; any other name gets it (and fails it if it holds a non-token byte, as a
            // line without a colon or with an empty name does).
            guard let found = memchr(base + lineStart, 0x3A, end - lineStart) else {
                return .failure(HTTPParseError(.badRequest, "malformed header line"))
            }
            let colon = UnsafeRawPointer(found) - base
            let field = headerField(base + lineStart, count: colon - lineStart)
            if field == .other {
                var index = lineStart
                while index < colon && isTokenByte(head[index]) { index += 1 }
                if index != colon || colon == lineStart {
                    return .failure(HTTPParseError(.badRequest, "malformed header line"))
                }
            }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd && (head[valueStart] == space || head[valueStart] == tab) { valueStart += 1 }
            while valueEnd > valueStart && (head[valueEnd - 1] == space || head[valueEnd - 1] == tab) { valueEnd -= 1 }
            if !isFieldValue(base + valueStart, count: valueEnd - valueStart) {
                return .failure(HTTPParseError(.badRequest, "invalid character in header value"))
            }
            switch field {
            case .contentLength:
                guard let parsed = parseContentLength(UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd]))
                else {
                    return .failure(HTTPParseError(.badRequest, "invalid Content-Length"))
                }
                if contentLength >= 0 && contentLength != parsed {
                    return .failure(HTTPParseError(.badRequest, "conflicting Content-Length headers"))
                }
                contentLength = parsed
            case .connection:
                forEachToken(UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd])) { token in
                    if token.count == 5 && equalsLowercase(token, "close") { close = true }
                    if token.count == 10 && equalsLowercase(token, "keep-alive") { keepAliveToken = true }
                }
            case .transferEncoding:
                // Several fields form one list (RFC 9110 §5.3): the codings in order, chunked last.
                transferEncoding = true
                forEachToken(UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd])) { token in
                    chunkedLast = token.count == 7 && equalsLowercase(token, "chunked")
                    if chunkedLast { chunkedCount += 1 } else { otherCodings += 1 }
                }
            case .idempotencyKey:
                idempotencyKey = (valueStart, valueEnd - valueStart)
            case .expect:
                let value = UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd])
                if value.count == 12 && equalsLowercase(value, "100-continue") { expectsContinue = true }
            case .common, .other:
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

@usableFromInline let lf: UInt8 = 0x0A
@usableFromInline let cr: UInt8 = 0x0D
@usableFromInline let space: UInt8 = 0x20
@usableFromInline let tab: UInt8 = 0x09
@usableFromInline let slash: UInt8 = 0x2F

private func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

/// The offset of the first line feed at or after `start` in `head`, which must hold one there.
private func lineFeed(in head: UnsafeRawBufferPointer, from start: Int) -> Int {
    let found = memchr(head.baseAddress! + start, Int32(lf), head.count - start)!
    return UnsafeRawPointer(found) - head.baseAddress!
}

/// Whether `byte` may appear in a token (RFC 9110 `tchar`: `!#$%&'*+-.^_`|~`, digits, letters).
///
/// Two 64-bit masks, bit `b` set for each token byte `b` below 64 and `b - 64` for 64…127: a global table would
/// cost a `swift_once` (its lazy initialisation check) and a bounds check for every byte (measured under callgrind:
/// about 450 instructions per request in `swift_once` alone).
private func isTokenByte(_ byte: UInt8) -> Bool {
    let below64: UInt64 = 0x03FF_6CFA_0000_0000  // ! # $ % & ' * + - . 0-9
    let from64: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // A-Z ^ _ ` a-z | ~
    let mask = byte < 64 ? below64 : (byte < 128 ? from64 : 0)
    return (mask >> UInt64(byte & 63)) & 1 != 0
}

/// Whether `count` bytes at `start` are all allowed in a field value (RFC 9110 `field-vchar`, SP, HTAB, and
/// obs-text: anything but the controls other than HTAB, and DEL). A word at a time (8 bytes, the last word
/// overlapping the one before it; two overlapping 4-byte words below 8): a word with no byte below 0x20 and none
/// equal to 0x7F is accepted whole (the usual case); one with such a byte is looked at byte by byte, since a tab
/// is allowed.
private func isFieldValue(_ start: UnsafeRawPointer, count: Int) -> Bool {
    if count >= 8 {
        var offset = 0
        while true {
            let at = min(offset, count - 8)
            if !isFieldWord(start.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                && !isFieldBytes(start + at, count: 8)
            {
                return false
            }
            if at == count - 8 { return true }
            offset += 8
        }
    }
    if count >= 4 {
        let first = UInt64(start.loadUnaligned(as: UInt32.self))
        let last = UInt64(start.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self))
        // Two 4-byte words in one: no byte of either is a control or DEL.
        return isFieldWord(first | last << 32) || isFieldBytes(start, count: count)
    }
    return isFieldBytes(start, count: count)
}

/// Whether no byte of `word` is below 0x20 or equal to 0x7F. A byte below 0x20 sets its high bit in
/// `(w - 0x20…) & ~w & 0x80…` (no false negatives; a false positive only sends the bytes to `isFieldBytes`); a
/// byte equal to 0x7F is a zero byte of `w ^ 0x7F…`.
private func isFieldWord(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let below = (word &- ones &* 0x20) & ~word & highs
    let delete = word ^ (ones &* 0x7F)
    let isDelete = (delete &- ones) & ~delete & highs
    return below | isDelete == 0
}

private func isFieldBytes(_ start: UnsafeRawPointer, count: Int) -> Bool {
    for offset in 0..<count where !isFieldByte(start.load(fromByteOffset: offset, as: UInt8.self)) {
        return false
    }
    return true
}

private func isFieldByte(_ byte: UInt8) -> Bool { (byte >= space || byte == tab) && byte != 0x7F }

/// The header fields the parser tells apart: those it acts on, and common ones it passes over.
private enum HeaderField {
    case contentLength
    case connection
    case transferEncoding
    case idempotencyKey
    case expect
    /// A field the parser passes over, known to be a valid name.
    case common
    /// Any other name (still to be checked for token bytes).
    case other
}

/// Which field a name is: a switch on its length, then a comparison a word at a time with the names of that length.
private func headerField(_ name: UnsafeRawPointer, count: Int) -> HeaderField {
    switch count {
    case 4:
        if nameEquals(name, "host") { return .common }
    case 6:
        if nameEquals(name, "accept") { return .common }
        if nameEquals(name, "expect") { return .expect }
        if nameEquals(name, "cookie") { return .common }
    case 10:
        if nameEquals(name, "user-agent") { return .common }
        if nameEquals(name, "connection") { return .connection }
    case 12:
        if nameEquals(name, "content-type") { return .common }
    case 13:
        if nameEquals(name, "cache-control") { return .common }
        if nameEquals(name, "authorization") { return .common }
    case 14:
        if nameEquals(name, "content-length") { return .contentLength }
    case 15:
        if nameEquals(name, "accept-encoding") { return .common }
        if nameEquals(name, "idempotency-key") { return .idempotencyKey }
        if nameEquals(name, "accept-language") { return .common }
    case 17:
        if nameEquals(name, "transfer-encoding") { return .transferEncoding }
    default:
        break
    }
    return .other
}

/// Compares the literal's length of bytes at `name` with a lowercase literal of letters and '-', ASCII
/// case-insensitively, a word at a time: bit 5 is set in the name's bytes only where the literal has a letter
/// (`(literal & 0x40) >> 1`: a lowercase letter has bit 6, '-' has not), so a letter matches in either case and
/// '-' only itself (setting bit 5 everywhere would let a CR stand for '-').
private func nameEquals(_ name: UnsafeRawPointer, _ lowercase: StaticString) -> Bool {
    let count = lowercase.utf8CodeUnitCount
    let expected = UnsafeRawPointer(lowercase.utf8Start)
    if count < 8 {
        for index in 0..<count {
            let letter = expected.load(fromByteOffset: index, as: UInt8.self)
            if name.load(fromByteOffset: index, as: UInt8.self) | ((letter & 0x40) >> 1) != letter { return false }
        }
        return true
    }
    // Whole words, the last one overlapping the one before it.
    var offset = 0
    while true {
        let at = min(offset, count - 8)
        let letters = expected.loadUnaligned(fromByteOffset: at, as: UInt64.self)
        let fold = (letters & 0x4040_4040_4040_4040) >> 1
        if name.loadUnaligned(fromByteOffset: at, as: UInt64.self) | fold != letters { return false }
        if at == count - 8 { return true }
        offset += 8
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
