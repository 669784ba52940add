/// A small binary writer for event payloads and snapshots: unsigned LEB128 varints, zig-zag signed integers and
/// length-prefixed UTF-8 strings. No Foundation, no reflection; ``PayloadReader`` reads it back and refuses
/// truncated or malformed input.
public struct PayloadWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends an unsigned integer as a LEB128 varint (1…10 bytes).
    public mutating func write(varint value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    /// Appends a signed integer, zig-zag encoded (small magnitudes take few bytes).
    public mutating func write(_ value: Int64) {
        write(varint: UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Appends a string: its UTF-8 byte count as a varint, then the bytes.
    public mutating func write(_ value: String) {
        write(varint: UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
}

/// Reads what ``PayloadWriter`` wrote.
public struct PayloadReader {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte was read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Reads a varint.
    /// - Throws: ``PayloadError`` when the input ends inside it or it is longer than 10 bytes or overflows.
    public mutating func readVarint() throws(PayloadError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw PayloadError("truncated varint") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw PayloadError("varint overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw PayloadError("varint longer than 10 bytes") }
        }
    }

    /// Reads a zig-zag signed integer.
    public mutating func readInt64() throws(PayloadError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads an amount of money: an Int64 in 1…Int64.max.
    /// - Throws: ``PayloadError`` when it is not there or not positive.
    public mutating func readAmount() throws(PayloadError) -> Int64 {
        let amount = try readInt64()
        guard amount > 0 else { throw PayloadError("amount not positive") }
        return amount
    }

    /// Reads a length-prefixed UTF-8 string.
    /// - Throws: ``PayloadError`` when the length passes the end or the bytes are not valid UTF-8.
    public mutating func readString() throws(PayloadError) -> String {
        let length = try readVarint()
        guard length <= UInt64(bytes.count - offset) else { throw PayloadError("string passes the end") }
        let end = offset + Int(length)
        guard let text = String(validating: bytes[offset..<end], as: UTF8.self) else {
            throw PayloadError("string is not valid UTF-8")
        }
        offset = end
        return text
    }

    /// Checks that nothing follows the last field.
    public func finish() throws(PayloadError) {
        guard isAtEnd else { throw PayloadError("\(bytes.count - offset) bytes after the last field") }
    }
}

/// A payload that cannot be decoded.
public struct PayloadError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
