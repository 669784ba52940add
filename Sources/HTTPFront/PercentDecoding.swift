/// Percent-decoding of path segments (RFC 3986), as UTF-8.
public enum PercentDecoding {
    /// Decodes one path segment: `%XX` escapes become bytes, which must form valid UTF-8.
    ///
    /// `+` stays `+` (it means a space only in form bodies), and `%2F` yields a `/` inside the segment, so any key
    /// can be addressed.
    /// - Parameter raw: the raw segment bytes, without `/`.
    /// - Returns: the decoded text, or nil when an escape is malformed or the bytes are not valid UTF-8.
    public static func decodeSegment(_ raw: UnsafeRawBufferPointer) -> String? {
        var hasEscape = false
        for byte in raw where byte == UInt8(ascii: "%") || byte >= 0x80 {
            hasEscape = true
            break
        }
        if !hasEscape {
            // Plain ASCII (the parser admits only visible ASCII in targets): no validation needed.
            return String(decoding: raw, as: UTF8.self)
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < raw.count, let high = hexValue(raw[index + 1]), let low = hexValue(raw[index + 2])
                else {
                    return nil
                }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte)
                index += 1
            }
        }
        return String(validating: decoded, as: UTF8.self)
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
