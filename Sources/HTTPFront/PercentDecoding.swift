/// Percent-decoding of path segments (RFC 3986), as UTF-8.
public enum PercentDecoding {
    /// Decodes one path segment: `%XX` escapes become bytes, which must form valid UTF-8.
    ///
    /// `+` stays `+` (it means a space only in form bodies), and `%2F` yields a `/` inside the segment, so any key
    /// can be addressed. A segment without escapes is passed as it is (the parser admits only visible ASCII in
    /// targets); one with escapes is decoded into a temporary buffer (on the stack up to 1 KiB). Nothing is
    /// allocated on the heap for either.
    /// - Parameters:
    ///   - raw: the raw segment bytes, without `/`.
    ///   - body: receives the decoded bytes (valid UTF-8), valid during the call.
    /// - Returns: what `body` returns, or nil when an escape is malformed or the bytes are not valid UTF-8.
    public static func withDecodedSegment<R>(
        _ raw: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R? {
        var plain = true
        for byte in raw where byte == UInt8(ascii: "%") || byte >= 0x80 {
            plain = false
            break
        }
        if plain { return try body(raw) }
        // Decoded text is never longer than its encoding.
        return try withUnsafeTemporaryAllocation(byteCount: max(1, raw.count), alignment: 1) { buffer -> R? in
            guard let count = decode(raw, into: buffer) else { return nil }
            let decoded = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            guard isValidUTF8(decoded) else { return nil }
            return try body(decoded)
        }
    }

    /// Decodes one path segment into a `String` (see ``withDecodedSegment(_:_:)``; the `String` allocates for
    /// more than 15 UTF-8 bytes).
    /// - Parameter raw: the raw segment bytes, without `/`.
    /// - Returns: the decoded text, or nil when an escape is malformed or the bytes are not valid UTF-8.
    public static func decodeSegment(_ raw: UnsafeRawBufferPointer) -> String? {
        withDecodedSegment(raw) { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes `%XX` escapes of `raw` into `buffer` (at least `raw.count` bytes).
    /// - Returns: the decoded length, or nil for a malformed escape.
    private static func decode(_ raw: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var index = 0
        var count = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < raw.count, let high = hexValue(raw[index + 1]), let low = hexValue(raw[index + 2])
                else {
                    return nil
                }
                buffer[count] = high << 4 | low
                index += 3
            } else {
                buffer[count] = byte
                index += 1
            }
            count += 1
        }
        return count
    }

    /// Whether `bytes` are valid UTF-8 (no allocation).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - 0x61 + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - 0x41 + 10
        default: nil
        }
    }
}
