#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import NIOCore

/// A minimal, incremental HTTP/1.x response parser working on raw bytes.
///
/// It reads the status code, `Content-Length`, `Transfer-Encoding: chunked` and `Connection`, and skips (or,
/// with `captureBody`, keeps) the body. Bytes may arrive split anywhere. It allocates nothing unless the body
/// is captured. One parser per connection; ``reset(isHead:)`` before each request.
public struct ResponseParser: Sendable {
    /// What feeding bytes produced.
    public enum Outcome: Sendable, Equatable {
        /// The response is not complete yet.
        case needMore
        /// The response is complete.
        case complete
        /// The bytes are not an HTTP/1.x response.
        case malformed(String)
    }

    private enum State: UInt8, Sendable {
        case statusVersion, statusMinor, statusSpace, statusCode, statusRest
        case headerLineStart, headerName, headerValue, headerLF, headersEndLF, skipLine
        case body, untilClose
        case chunkSize, chunkExtension, chunkSizeLF, chunkData, chunkDataCR, chunkDataLF
        case trailerLineStart, trailerLine, trailerLF, trailerEndLF
        case done
    }

    private enum HeaderKind: UInt8, Sendable {
        case other, contentLength, transferEncoding, connection
    }

    private static let versionPrefix: [UInt8] = Array("HTTP/1.".utf8)
    private static let contentLength: [UInt8] = Array("content-length".utf8)
    private static let transferEncoding: [UInt8] = Array("transfer-encoding".utf8)
    private static let connection: [UInt8] = Array("connection".utf8)

    private var state: State = .statusVersion
    private var index = 0
    private var isHead = false
    private var headerKind: HeaderKind = .other
    private var candidates: UInt8 = 0b111
    private var valueWord: UInt64 = 0
    private var valueLength = 0
    private var valueNumber: Int = 0
    private var valueDigitsOnly = true
    private var remaining: Int = 0

    /// HTTP status code (valid once the status line is parsed).
    public private(set) var status: Int = 0
    /// HTTP/1.x minor version.
    public private(set) var minorVersion: Int = 1
    /// `Content-Length`, or -1 when absent.
    public private(set) var contentLength: Int = -1
    /// Whether the body is chunked.
    public private(set) var chunked = false
    /// Whether the server asked to close the connection (or HTTP/1.0 without keep-alive).
    public private(set) var connectionClose = false
    private var connectionKeepAlive = false
    /// Body bytes received (decoded size for chunked bodies).
    public private(set) var bodyBytes: Int = 0
    /// Whether the body is kept in ``body``.
    public var captureBody: Bool
    /// The body when ``captureBody`` is set.
    public private(set) var body: [UInt8] = []
    /// Whether any byte of the current response has arrived.
    public private(set) var started = false

    /// A parser for a response to a non-HEAD request.
    /// - Parameter captureBody: keep the body bytes (for checks), otherwise only count them.
    public init(captureBody: Bool = false) {
        self.captureBody = captureBody
    }

    /// Prepares for the next response.
    /// - Parameter isHead: whether the request was HEAD (the response then has no body).
    @inline(__always)
    public mutating func reset(isHead: Bool) {
        state = .statusVersion
        index = 0
        self.isHead = isHead
        headerKind = .other
        remaining = 0
        status = 0
        minorVersion = 1
        contentLength = -1
        chunked = false
        connectionClose = false
        connectionKeepAlive = false
        bodyBytes = 0
        started = false
        if !body.isEmpty { body.removeAll(keepingCapacity: true) }
    }

    private init(captureBody: Bool, isHead: Bool, keeping body: [UInt8]) {
        self.captureBody = captureBody
        self.isHead = isHead
        self.body = body
        self.body.removeAll(keepingCapacity: true)
    }

    /// Whether the connection may carry another request after this response.
    public var keepAlive: Bool {
        if connectionClose { return false }
        if minorVersion == 0 { return connectionKeepAlive && state != .untilClose }
        return state != .untilClose
    }

    /// Feeds the bytes readable in `buffer` (the reader index is not moved).
    /// - Parameter buffer: newly received bytes.
    /// - Returns: whether the response is complete, incomplete or malformed.
    public mutating func feed(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { feed($0) }
    }

    /// The response ended because the peer closed the connection.
    /// - Returns: `.complete` for a read-until-close body, otherwise `.malformed("EOF")`-style `.needMore`.
    public mutating func finishOnClose() -> Outcome {
        if state == .untilClose {
            state = .done
            return .complete
        }
        if state == .done { return .complete }
        return .needMore
    }

    /// Feeds raw bytes.
    /// - Parameter bytes: newly received bytes.
    /// - Returns: whether the response is complete, incomplete or malformed.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        if bytes.isEmpty { return .needMore }
        started = true
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .body:
                let take = min(remaining, n - i)
                if captureBody { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])) }
                bodyBytes += take
                remaining -= take
                i += take
                if remaining == 0 {
                    state = .done
                    return .complete
                }
                continue
            case .untilClose:
                if captureBody { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<n])) }
                bodyBytes += n - i
                return .needMore
            case .chunkData:
                let take = min(remaining, n - i)
                if captureBody { body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)])) }
                bodyBytes += take
                remaining -= take
                i += take
                if remaining == 0 { state = .chunkDataCR }
                continue
            case .statusRest, .skipLine:
                // Uninteresting text up to the end of the line: skip it in one scan.
                guard let newline = ResponseParser.index(of: UInt8(ascii: "\n"), in: bytes, from: i) else {
                    return .needMore
                }
                i = newline + 1
                state = .headerLineStart
                continue
            case .done:
                return .complete
            case .headerLineStart:
                // Fast path: the whole header line is in this buffer.
                if let next = fastHeaderLine(bytes, from: i) {
                    i = next
                    continue
                }
            case .statusVersion:
                // Fast path: the whole "HTTP/1.x SSS" is in this buffer.
                if index == 0, let next = fastStatusLine(bytes, from: i) {
                    i = next
                    state = .statusRest
                    continue
                }
            default:
                break
            }
            let byte = bytes[i]
            i += 1
            switch state {
            case .statusVersion:
                guard byte == ResponseParser.versionPrefix[index] else { return malformed(bytes) }
                index += 1
                if index == ResponseParser.versionPrefix.count { state = .statusMinor }
            case .statusMinor:
                guard byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") else { return malformed(bytes) }
                minorVersion = Int(byte &- 48)
                state = .statusSpace
            case .statusSpace:
                guard byte == UInt8(ascii: " ") else { return malformed(bytes) }
                state = .statusCode
                index = 0
            case .statusCode:
                guard byte >= 48 && byte <= 57 else { return malformed(bytes) }
                status = status * 10 + Int(byte &- 48)
                index += 1
                if index == 3 { state = .statusRest }
            case .headerLineStart:
                if byte == UInt8(ascii: "\r") {
                    state = .headersEndLF
                } else if byte == UInt8(ascii: "\n") {
                    if let outcome = headersDone() { return outcome }
                } else if byte | 0x20 == UInt8(ascii: "c") || byte | 0x20 == UInt8(ascii: "t") {
                    startHeaderName(byte)
                } else {
                    // No header we read starts with this letter.
                    state = .skipLine
                }
            case .headerName:
                if byte == UInt8(ascii: ":") {
                    headerKind = finishedHeaderKind()
                    valueWord = 0
                    valueLength = 0
                    valueNumber = 0
                    valueDigitsOnly = true
                    state = .headerValue
                } else if byte == UInt8(ascii: "\n") {
                    return malformed(bytes)
                } else {
                    matchHeaderName(byte)
                }
            case .headerValue:
                if byte == UInt8(ascii: "\r") {
                    state = .headerLF
                } else if byte == UInt8(ascii: "\n") {
                    finishHeaderValue()
                    state = .headerLineStart
                } else {
                    consumeValueByte(byte)
                }
            case .headerLF:
                guard byte == UInt8(ascii: "\n") else { return malformed(bytes) }
                finishHeaderValue()
                state = .headerLineStart
            case .headersEndLF:
                guard byte == UInt8(ascii: "\n") else { return malformed(bytes) }
                if let outcome = headersDone() { return outcome }
            case .chunkSize:
                if let digit = ResponseParser.hexValue(byte) {
                    guard remaining < (Int.max >> 4) else { return .malformed("malformed chunked encoding") }
                    remaining = remaining << 4 | digit
                    index += 1
                } else if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    state = .chunkExtension
                } else if byte == UInt8(ascii: "\r") {
                    state = .chunkSizeLF
                } else if byte == UInt8(ascii: "\n") {
                    if let outcome = chunkSizeDone() { return outcome }
                } else {
                    return .malformed("malformed chunked encoding")
                }
            case .chunkExtension:
                if byte == UInt8(ascii: "\n") {
                    if let outcome = chunkSizeDone() { return outcome }
                } else if byte == UInt8(ascii: "\r") {
                    state = .chunkSizeLF
                }
            case .chunkSizeLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed("malformed chunked encoding") }
                if let outcome = chunkSizeDone() { return outcome }
            case .chunkDataCR:
                if byte == UInt8(ascii: "\r") {
                    state = .chunkDataLF
                } else if byte == UInt8(ascii: "\n") {
                    beginChunkSize()
                } else {
                    return .malformed("malformed chunked encoding")
                }
            case .chunkDataLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed("malformed chunked encoding") }
                beginChunkSize()
            case .trailerLineStart:
                if byte == UInt8(ascii: "\r") {
                    state = .trailerEndLF
                } else if byte == UInt8(ascii: "\n") {
                    state = .done
                    return .complete
                } else {
                    state = .trailerLine
                }
            case .trailerLine:
                if byte == UInt8(ascii: "\n") { state = .trailerLineStart }
            case .trailerLF, .trailerEndLF:
                guard byte == UInt8(ascii: "\n") else { return .malformed("malformed chunked trailer") }
                state = .done
                return .complete
            case .body, .untilClose, .chunkData, .done, .statusRest, .skipLine:
                preconditionFailure("handled above")
            }
        }
        return .needMore
    }

    private mutating func beginChunkSize() {
        state = .chunkSize
        remaining = 0
        index = 0
    }

    private mutating func chunkSizeDone() -> Outcome? {
        guard index > 0 else { return .malformed("malformed chunked encoding") }
        if remaining == 0 {
            state = .trailerLineStart
        } else {
            state = .chunkData
        }
        return nil
    }

    private mutating func startHeaderName(_ byte: UInt8) {
        index = 0
        candidates = 0b111
        state = .headerName
        matchHeaderName(byte)
    }

    private mutating func matchHeaderName(_ byte: UInt8) {
        let lower = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
        if candidates & 1 != 0,
            index >= ResponseParser.contentLength.count || ResponseParser.contentLength[index] != lower
        {
            candidates &= ~1
        }
        if candidates & 2 != 0,
            index >= ResponseParser.transferEncoding.count || ResponseParser.transferEncoding[index] != lower
        {
            candidates &= ~2
        }
        if candidates & 4 != 0,
            index >= ResponseParser.connection.count || ResponseParser.connection[index] != lower
        {
            candidates &= ~4
        }
        index += 1
        if candidates == 0 { state = .skipLine }
    }

    /// Parses `HTTP/1.x SSS` at `start` when all 12 bytes are present.
    /// - Returns: the index after the status code, or nil to take the byte-by-byte path.
    @inline(__always)
    private mutating func fastStatusLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard bytes.count - start >= 12, let base = bytes.baseAddress else { return nil }
        guard memcmp(base + start, ResponseParser.httpSlash1.utf8Start, 7) == 0 else { return nil }
        let minor = bytes[start + 7]
        let d0 = bytes[start + 9] &- 48
        let d1 = bytes[start + 10] &- 48
        let d2 = bytes[start + 11] &- 48
        guard minor == 48 || minor == 49, bytes[start + 8] == UInt8(ascii: " "), d0 < 10, d1 < 10, d2 < 10 else {
            return nil
        }
        minorVersion = Int(minor &- 48)
        status = Int(d0) * 100 + Int(d1) * 10 + Int(d2)
        return start + 12
    }

    private static let httpSlash1: StaticString = "HTTP/1."
    private static let contentLengthName: StaticString = "content-length"
    private static let transferEncodingName: StaticString = "transfer-encoding"
    private static let connectionName: StaticString = "connection"

    /// Handles one complete header line starting at `start` (not an empty line).
    /// - Returns: the index after the line, or nil to take the byte-by-byte path (line split or empty).
    @inline(__always)
    private mutating func fastHeaderLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let first = bytes[start]
        guard first != UInt8(ascii: "\r"), first != UInt8(ascii: "\n"),
            let newline = ResponseParser.index(of: UInt8(ascii: "\n"), in: bytes, from: start)
        else { return nil }
        let lower = first | 0x20
        guard lower == UInt8(ascii: "c") || lower == UInt8(ascii: "t") else { return newline + 1 }
        guard let base = bytes.baseAddress, let found = memchr(base + start, Int32(UInt8(ascii: ":")), newline - start)
        else { return nil }
        let colon = base.distance(to: UnsafeRawPointer(found))
        let kind: HeaderKind
        switch colon - start {
        case 14 where ResponseParser.equalsLowercased(base + start, ResponseParser.contentLengthName):
            kind = .contentLength
        case 17 where ResponseParser.equalsLowercased(base + start, ResponseParser.transferEncodingName):
            kind = .transferEncoding
        case 10 where ResponseParser.equalsLowercased(base + start, ResponseParser.connectionName):
            kind = .connection
        default:
            return newline + 1
        }
        headerKind = kind
        valueWord = 0
        valueLength = 0
        valueNumber = 0
        valueDigitsOnly = true
        var j = colon + 1
        while j < newline {
            let byte = bytes[j]
            if byte != UInt8(ascii: "\r") { consumeValueByte(byte) }
            j += 1
        }
        finishHeaderValue()
        return newline + 1
    }

    @inline(__always)
    private static func equalsLowercased(_ pointer: UnsafeRawPointer, _ name: StaticString) -> Bool {
        let expected = name.utf8Start
        for k in 0..<name.utf8CodeUnitCount where pointer.load(fromByteOffset: k, as: UInt8.self) | 0x20 != expected[k]
        {
            return false
        }
        return true
    }

    /// The index of the first `byte` in `bytes` at or after `start`.
    @inline(__always)
    private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    private func finishedHeaderKind() -> HeaderKind {
        if candidates & 1 != 0 && index == ResponseParser.contentLength.count { return .contentLength }
        if candidates & 2 != 0 && index == ResponseParser.transferEncoding.count { return .transferEncoding }
        if candidates & 4 != 0 && index == ResponseParser.connection.count { return .connection }
        return .other
    }

    private mutating func consumeValueByte(_ byte: UInt8) {
        switch headerKind {
        case .other:
            return
        case .contentLength:
            if byte >= 48 && byte <= 57 {
                if valueNumber < Int.max / 10 { valueNumber = valueNumber * 10 + Int(byte &- 48) }
                valueLength += 1
            } else if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") {
                valueDigitsOnly = false
            }
        case .transferEncoding, .connection:
            // Keep a rolling window of the last 8 lower-cased non-blank bytes: enough to spot "chunked",
            // "close" and "keep-alive" at the end of a token list.
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { return }
            let lower = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
            valueWord = valueWord << 8 | UInt64(lower)
            valueLength += 1
        }
    }

    private static func word(_ text: StaticString) -> UInt64 {
        var w: UInt64 = 0
        text.withUTF8Buffer { for b in $0.suffix(8) { w = w << 8 | UInt64(b) } }
        return w
    }

    private static let chunkedWord = word("chunked")
    private static let closeWord = word("close")
    private static let keepAliveWord = word("ep-alive")

    private mutating func finishHeaderValue() {
        switch headerKind {
        case .other:
            break
        case .contentLength:
            if valueDigitsOnly && valueLength > 0 { contentLength = valueNumber }
        case .transferEncoding:
            if valueWord & 0x00FF_FFFF_FFFF_FFFF == ResponseParser.chunkedWord { chunked = true }
        case .connection:
            if valueWord & 0xFF_FFFF_FFFF == ResponseParser.closeWord {
                connectionClose = true
            } else if valueWord == ResponseParser.keepAliveWord {
                connectionKeepAlive = true
            }
        }
    }

    private mutating func headersDone() -> Outcome? {
        if status >= 100 && status < 200 && status != 101 {
            // An interim response (100 Continue): the real one follows.
            let keepCapture = captureBody
            let head = isHead
            self = ResponseParser(captureBody: keepCapture, isHead: head, keeping: body)
            started = true
            return nil
        }
        if isHead || status == 204 || status == 304 {
            state = .done
            return .complete
        }
        if chunked {
            beginChunkSize()
            return nil
        }
        if contentLength >= 0 {
            if contentLength == 0 {
                state = .done
                return .complete
            }
            remaining = contentLength
            state = .body
            return nil
        }
        state = .untilClose
        return nil
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: return Int(byte - 48)
        case 97...102: return Int(byte - 87)
        case 65...70: return Int(byte - 55)
        default: return nil
        }
    }

    private func malformed(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let text = String(decoding: bytes.prefix(40), as: UTF8.self)
        let visible = text.split(whereSeparator: { $0.isNewline }).first.map(String.init) ?? text
        return .malformed("malformed HTTP response \"\(visible)\"")
    }
}
