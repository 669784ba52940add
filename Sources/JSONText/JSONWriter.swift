/// A minimal JSON writer into a byte array: strings with correct escaping, integers, and raw fragments.
///
/// Off the hot path it builds small documents (routing answers, node lists); on the hot path the same escaping
/// is used through `ByteBuffer.writeJSONString`.
public struct JSONWriter: Sendable {
    /// The document so far.
    public var bytes: [UInt8] = []

    public init() {}

    /// The document as a string.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends a quoted, escaped JSON string.
    /// - Parameter string: the text.
    public mutating func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var copy = string
        copy.withUTF8 { utf8 in
            JSONWriter.escape(utf8) { chunk in bytes.append(contentsOf: chunk) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an integer.
    /// - Parameter value: the number.
    public mutating func writeInt(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Appends raw JSON (punctuation, keys known to need no escaping).
    /// - Parameter raw: the fragment.
    public mutating func writeRaw(_ raw: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: raw.utf8Start, count: raw.utf8CodeUnitCount))
    }

    /// Escapes UTF-8 text for a JSON string: `"` and `\` get a backslash, control characters below U+0020 become
    /// `\b \f \n \r \t` or `\u00XX`; everything else (valid UTF-8 included) passes through unchanged.
    /// - Parameters:
    ///   - utf8: the text (valid UTF-8, as Swift strings are).
    ///   - emit: receives the output in chunks: runs of unchanged bytes and escape sequences.
    @inlinable
    public static func escape(_ utf8: UnsafeBufferPointer<UInt8>, _ emit: (UnsafeRawBufferPointer) -> Void) {
        var runStart = 0
        var index = 0
        let count = utf8.count
        while index < count {
            let byte = utf8[index]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
                index += 1
                continue
            }
            if index > runStart {
                emit(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<index])))
            }
            var escape: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0x5C, 0, 0, 0, 0, 0)
            var length = 2
            switch byte {
            case 0x22: escape.1 = 0x22
            case 0x5C: escape.1 = 0x5C
            case 0x08: escape.1 = UInt8(ascii: "b")
            case 0x0C: escape.1 = UInt8(ascii: "f")
            case 0x0A: escape.1 = UInt8(ascii: "n")
            case 0x0D: escape.1 = UInt8(ascii: "r")
            case 0x09: escape.1 = UInt8(ascii: "t")
            default:
                let hex: StaticString = "0123456789abcdef"
                escape.1 = UInt8(ascii: "u")
                escape.2 = 0x30
                escape.3 = 0x30
                escape.4 = hex.utf8Start[Int(byte >> 4)]
                escape.5 = hex.utf8Start[Int(byte & 0x0F)]
                length = 6
            }
            withUnsafeBytes(of: &escape) { raw in emit(UnsafeRawBufferPointer(rebasing: raw[0..<length])) }
            index += 1
            runStart = index
        }
        if count > runStart {
            emit(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<count])))
        }
    }
}
