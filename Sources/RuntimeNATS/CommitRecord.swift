import EventSourcing

/// The body of one JetStream message of the event store: one append's events (a *commit*), in a compact, versioned
/// binary encoding (no Foundation JSON).
///
/// nats-server 2.9 has no atomic multi-message publish, so an append is one message and a message is one append.
/// The stream name is the message's subject, so it is not repeated here.
///
/// Layout, format 1 (varints are LEB128, unsigned):
/// ```
/// u8       format (1)
/// varint   firstVersion          the stream version of the first event
/// varint   count                 events in the commit (1…65536)
/// count ×  event:
///   16 B     event ID (big-endian, high half first)
///   varint   type length, UTF-8 type name
///   varint   schema version
///   8 B      occurred-at, nanoseconds since the epoch (little-endian, two's complement)
///   u8       metadata flags: 1 correlation ID, 2 causation ID, 4 idempotency key
///   (varint length, UTF-8) for each flagged metadata string, in that order
///   varint   payload length, payload bytes
/// ```
enum CommitRecord {
    static let format: UInt8 = 1
    /// The most events one commit may hold (fixed by the global-position mapping, see ``JetStreamEventStore``).
    static let maxEvents = 1 << 16

    /// Encodes `events` as the commit whose first event is at `firstVersion`.
    static func encode(firstVersion: UInt64, events: [EventData]) -> [UInt8] {
        var size = 1 + 10 + 10
        for event in events {
            size += 16 + 10 + event.type.utf8.count + 5 + 8 + 1 + 10 + event.payload.count
            size += (event.metadata.correlationID?.utf8.count ?? -10) + 10
            size += (event.metadata.causationID?.utf8.count ?? -10) + 10
            size += (event.metadata.idempotencyKey?.utf8.count ?? -10) + 10
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        bytes.append(format)
        appendVarint(firstVersion, to: &bytes)
        appendVarint(UInt64(events.count), to: &bytes)
        for event in events {
            appendFixed(event.id.high.bigEndian, to: &bytes)
            appendFixed(event.id.low.bigEndian, to: &bytes)
            appendString(event.type, to: &bytes)
            appendVarint(UInt64(event.schemaVersion), to: &bytes)
            appendFixed(event.occurredAt.nanosecondsSinceEpoch.littleEndian, to: &bytes)
            let metadata = event.metadata
            var flags: UInt8 = 0
            if metadata.correlationID != nil { flags |= 1 }
            if metadata.causationID != nil { flags |= 2 }
            if metadata.idempotencyKey != nil { flags |= 4 }
            bytes.append(flags)
            if let value = metadata.correlationID { appendString(value, to: &bytes) }
            if let value = metadata.causationID { appendString(value, to: &bytes) }
            if let value = metadata.idempotencyKey { appendString(value, to: &bytes) }
            appendVarint(UInt64(event.payload.count), to: &bytes)
            bytes.append(contentsOf: event.payload)
        }
        return bytes
    }

    /// The commit's header: first version and event count.
    struct Header: Equatable {
        var firstVersion: UInt64
        var count: Int
        var lastVersion: UInt64 { firstVersion + UInt64(count) - 1 }
    }

    /// A malformed record (wrong format byte, truncated, out of range).
    struct Malformed: Error, Sendable {
        var reason: String
    }

    /// Reads the header only.
    static func header(_ bytes: [UInt8]) throws(Malformed) -> Header {
        var reader = Reader(bytes: bytes)
        return try reader.header()
    }

    /// Decodes the whole commit into its events' data.
    static func decode(_ bytes: [UInt8]) throws(Malformed) -> (header: Header, events: [EventData]) {
        var reader = Reader(bytes: bytes)
        let header = try reader.header()
        var events: [EventData] = []
        events.reserveCapacity(header.count)
        for _ in 0..<header.count {
            let high = UInt64(bigEndian: try reader.fixed(UInt64.self))
            let low = UInt64(bigEndian: try reader.fixed(UInt64.self))
            let type = try reader.string()
            let schema = try reader.varint()
            guard schema <= UInt64(UInt32.max) else { throw Malformed(reason: "schema version out of range") }
            let occurred = Int64(littleEndian: try reader.fixed(Int64.self))
            let flags = try reader.byte()
            var metadata = EventMetadata()
            if flags & 1 != 0 { metadata.correlationID = try reader.string() }
            if flags & 2 != 0 { metadata.causationID = try reader.string() }
            if flags & 4 != 0 { metadata.idempotencyKey = try reader.string() }
            let payload = try reader.bytes(count: try reader.length())
            events.append(
                EventData(
                    id: EventID(high: high, low: low), type: type, schemaVersion: UInt32(schema),
                    occurredAt: EventTimestamp(nanosecondsSinceEpoch: occurred), metadata: metadata, payload: payload))
        }
        guard reader.isAtEnd else { throw Malformed(reason: "trailing bytes") }
        return (header, events)
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func appendFixed<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        appendVarint(UInt64(value.utf8.count), to: &bytes)
        bytes.append(contentsOf: value.utf8)
    }

    /// A bounds-checked cursor over a record.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func byte() throws(Malformed) -> UInt8 {
            guard offset < bytes.count else { throw Malformed(reason: "truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() throws(Malformed) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = try byte()
                guard shift < 64 else { throw Malformed(reason: "varint too long") }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func length() throws(Malformed) -> Int {
            let value = try varint()
            guard value <= UInt64(bytes.count - offset) else { throw Malformed(reason: "length past the end") }
            return Int(value)
        }

        mutating func fixed<T: FixedWidthInteger>(_ type: T.Type) throws(Malformed) -> T {
            let size = MemoryLayout<T>.size
            guard bytes.count - offset >= size else { throw Malformed(reason: "truncated") }
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { target in
                bytes.withUnsafeBytes { source in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + size]))
                }
            }
            offset += size
            return value
        }

        mutating func bytes(count: Int) throws(Malformed) -> [UInt8] {
            guard bytes.count - offset >= count else { throw Malformed(reason: "truncated") }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        mutating func string() throws(Malformed) -> String {
            String(decoding: try bytes(count: try length()), as: UTF8.self)
        }

        mutating func header() throws(Malformed) -> Header {
            let format = try byte()
            guard format == CommitRecord.format else {
                throw Malformed(
                    reason: "unknown record format \(format) (this code reads format \(CommitRecord.format))")
            }
            let first = try varint()
            let count = try varint()
            guard first >= 1, count >= 1, count <= UInt64(CommitRecord.maxEvents) else {
                throw Malformed(reason: "header out of range (first version \(first), \(count) events)")
            }
            return Header(firstVersion: first, count: Int(count))
        }
    }
}
