/// A value with a compact binary encoding, for messages and replies that cross a process boundary.
///
/// Inside one process typed values pass by reference and are never encoded; the NATS transport encodes with this.
/// Encodings are little-endian, lengths are LEB128 varints; each type owns its layout and should keep it stable.
public protocol WireCodable: Sendable {
    /// Appends the encoding of `self`.
    func encode(to writer: inout WireWriter)
    /// Decodes a value.
    /// - Throws: ``RequestError`` with code `codec` on malformed input.
    init(from reader: inout WireReader) throws(RequestError)
}

/// A message that can travel between nodes: an actor message with a stable wire name and codable reply.
public protocol ClusterMessage: ActorMessage, WireCodable where Reply: WireCodable {
    /// The name the message travels under (the reference uses "<pkgpath>.<Type>"; choose a stable name).
    static var messageType: String { get }
}

/// Encoded bytes of a value whose type the receiver decides (a reply from another process, before decoding).
public struct WireBytes: Sendable, Equatable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Decodes the bytes as `T`.
    public func decode<T: WireCodable>(as type: T.Type = T.self) throws(RequestError) -> T {
        var reader = WireReader(bytes)
        return try T(from: &reader)
    }
}

/// Appends encodings to a byte array (reserve capacity up front and reuse it to avoid allocation).
public struct WireWriter: Sendable {
    public var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func write(_ value: UInt8) { bytes.append(value) }

    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// Zig-zag then varint.
    @inlinable
    public mutating func write(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable
    public mutating func write(_ value: Int) { write(Int64(value)) }

    @inlinable
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    @inlinable
    public mutating func write(_ value: String) {
        var copy = value
        copy.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    @inlinable
    public mutating func write(bytes value: [UInt8]) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads encodings written by ``WireWriter``; every read is bounds-checked.
public struct WireReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }

    @inlinable
    static func truncated() -> RequestError { RequestError(.codec, "truncated input") }

    public mutating func readByte() throws(RequestError) -> UInt8 {
        guard offset < bytes.count else { throw Self.truncated() }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readVarint() throws(RequestError) -> UInt64 {
        try Self.decodeVarint { () throws(RequestError) -> UInt8 in try readByte() }
    }

    public mutating func readInt64() throws(RequestError) -> Int64 {
        Self.zigZagDecode(try readVarint())
    }

    /// Decodes one LEB128 varint from bytes supplied by `nextByte`: the one definition of the format, shared by
    /// readers over other storage (the NATS transport reads libnats' buffers in place).
    @inlinable
    public static func decodeVarint(
        _ nextByte: () throws(RequestError) -> UInt8
    ) throws(RequestError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try nextByte()
            if shift == 63 && byte > 1 { throw RequestError(.codec, "varint overflow") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw RequestError(.codec, "varint too long") }
        }
    }

    /// The signed value of a zig-zag encoded varint (as `WireWriter.write(_: Int64)` writes it).
    @inlinable
    public static func zigZagDecode(_ raw: UInt64) -> Int64 {
        Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    public mutating func readInt() throws(RequestError) -> Int {
        Int(try readInt64())
    }

    public mutating func readBool() throws(RequestError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        default: throw RequestError(.codec, "invalid bool")
        }
    }

    public mutating func readBytes() throws(RequestError) -> [UInt8] {
        let count = try readVarint()
        guard count <= UInt64(bytes.count - offset) else { throw Self.truncated() }
        let end = offset + Int(count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func readString() throws(RequestError) -> String {
        let count = try readVarint()
        guard count <= UInt64(bytes.count - offset) else { throw Self.truncated() }
        let end = offset + Int(count)
        defer { offset = end }
        guard let string = String(validating: bytes[offset..<end], as: UTF8.self) else {
            throw RequestError(.codec, "invalid UTF-8")
        }
        return string
    }
}

extension Int: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public init(from reader: inout WireReader) throws(RequestError) { self = try reader.readInt() }
}

extension String: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public init(from reader: inout WireReader) throws(RequestError) { self = try reader.readString() }
}

/// The empty reply of a command that answers nothing, with an empty encoding.
public struct Empty: WireCodable, Equatable {
    public init() {}
    public func encode(to writer: inout WireWriter) {}
    public init(from reader: inout WireReader) throws(RequestError) {}
}

extension Outcome {
    /// The reply as `Reply`, decoding it when it arrived as ``WireBytes`` from another process.
    @inlinable
    public func decode<Reply: WireCodable>(as type: Reply.Type = Reply.self) -> Result<Reply, RequestError> {
        switch self {
        case .success(let value):
            if let typed = exactCast(value, to: Reply.self) { return .success(typed) }
            // The bytes of a reply from another process, checked by type identity before the dynamic casts
            // (each a runtime search: two per reply over NATS cost ~650 instructions in callgrind).
            if let wire = exactCast(value, to: WireBytes.self) ?? value as? WireBytes {
                do throws(RequestError) {
                    return .success(try wire.decode(as: Reply.self))
                } catch {
                    return .failure(error)
                }
            }
            if let typed = value as? Reply { return .success(typed) }
            return .failure(RequestError(.replyTypeMismatch, "expected \(Reply.self), got \(Swift.type(of: value))"))
        case .failure(let error):
            return .failure(error)
        }
    }
}
