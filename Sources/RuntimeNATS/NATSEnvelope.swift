import ClstrRuntime
import Synchronization

/// The transport's wire formats: the request envelope published to `<prefix>.shard.<id>` and the reply frame
/// published to the requester's inbox. Both start with a version byte; integers are LEB128 varints (signed ones
/// zig-zag), strings are a varint length then UTF-8, and the payload is the rest of the frame (no length).
///
/// Request, version 1:
/// ```
/// u8 version = 1 | varint shard | string key | string messageType | varint remainingDeadlineMicros (0 = none)
/// | zigzag createdAtMilliseconds | varint headerCount | (string name, string value) × headerCount | payload…
/// ```
/// Reply, version 1:
/// ```
/// u8 version = 1 | u8 status = 0 (ok)    | payload…
/// u8 version = 1 | u8 status = 1 (error) | string code | string message
/// ```
/// Batches, version 2 (many requests from one loop turn to one destination, many replies to one requester):
/// ```
/// u8 version = 2 | u8 kind = 1 (requests) | string inbox | (varint token, varint length, request v1) × n
/// u8 version = 2 | u8 kind = 2 (replies)               | (varint token, varint length, reply v1) × n
/// ```
/// A request batch's entries are answered to `<inbox><token hex>` one by one (v1 replies) or together as a reply
/// batch to `<inbox>b`; the batch's own NATS reply subject names its last request (`<inbox><token hex>`), so that
/// a no-responders status fails every request of the batch. Any other version is rejected (`codec`).
enum NATSEnvelope {
    /// The version of single requests and replies (and of each batch entry).
    static let version: UInt8 = 1
    /// The version of batch frames.
    static let batchVersion: UInt8 = 2
    static let kindRequests: UInt8 = 1
    static let kindReplies: UInt8 = 2
    static let statusOK: UInt8 = 0
    static let statusError: UInt8 = 1

    /// A decoded request with the deadline still relative (the receiver anchors it to its own clock).
    struct Incoming {
        var request: ClusterRequest
        var remainingMicroseconds: UInt64
    }

    /// Whether `headers` contains a reserved name (the rule is ``ClusterRequest/isReservedHeader(_:)``).
    static func hasReservedHeader(_ headers: [String: String]) -> Bool {
        !headers.isEmpty && headers.keys.contains(where: ClusterRequest.isReservedHeader)
    }

    /// Appends the request envelope for `request`.
    /// - Throws: ``RequestError`` `codec` when a `.value` payload is not ``WireCodable``.
    static func encodeRequest(
        _ request: ClusterRequest, remainingMicroseconds: UInt64, into writer: inout WireWriter
    ) throws(RequestError) {
        writer.write(version)
        writer.writeVarint(UInt64(request.shard))
        writer.write(request.key)
        writer.write(request.messageType)
        writer.writeVarint(remainingMicroseconds)
        writer.write(request.createdAtMilliseconds)
        writer.writeVarint(UInt64(request.headers.count))
        for (name, value) in request.headers {
            writer.write(name)
            writer.write(value)
        }
        switch request.payload {
        case .bytes(let bytes):
            writer.bytes.append(contentsOf: bytes)
        case .value(let value):
            try encodeValue(value, into: &writer)
        }
    }

    /// Appends the encoding of a typed value (a ``WireCodable``, or ``WireBytes`` as they are).
    /// - Throws: ``RequestError`` `codec` when the value has no wire encoding.
    static func encodeValue(_ value: any Sendable, into writer: inout WireWriter) throws(RequestError) {
        let key = ObjectIdentifier(type(of: value))
        if let codableType = codableTypes.load()[key] {
            return encode(value, as: codableType, into: &writer)
        }
        if let codable = value as? any WireCodable {
            // Only a value that is its conforming type as it is (not one the cast unwrapped: an Optional, an
            // AnyHashable), so that the cast to the type found cannot fail.
            let found = type(of: codable)
            if ObjectIdentifier(found) == key {
                codableTypes.update { types -> ([ObjectIdentifier: any WireCodable.Type], Void) in
                    guard types.count < 4_096, types[key] == nil else { return (types, ()) }
                    var next = types
                    next[key] = found
                    return (next, ())
                }
            }
            codable.encode(to: &writer)
        } else if let wire = value as? WireBytes {
            writer.bytes.append(contentsOf: wire.bytes)
        } else {
            throw RequestError(.codec, "\(type(of: value)) is not WireCodable and cannot cross the NATS transport")
        }
    }

    /// The ``WireCodable`` types met so far, by type. A cast of an `any Sendable` to `any WireCodable` looks the
    /// conformance up in the runtime's tables every time (~1,200 instructions per reply in callgrind: a third of
    /// what the node spent on the reply); the cast to the concrete type found once is a metadata comparison.
    /// Read without a lock by every loop (a snapshot replaced when a new type shows up); bounded (types beyond
    /// 4,096 take the slow path).
    private static let codableTypes = SnapshotCell([ObjectIdentifier: any WireCodable.Type]())

    private static func encode<Value: WireCodable>(
        _ value: any Sendable, as _: Value.Type, into writer: inout WireWriter
    ) {
        // Cached only for values whose own type is `Value` (see `encodeValue`): the exact cast (a metatype
        // comparison, not the runtime's general cast) finds it.
        (exactCast(value, to: Value.self) ?? value as! Value).encode(to: &writer)
    }

    /// Decodes a request envelope.
    /// - Throws: ``RequestError`` `codec` for a malformed or unknown-version frame, `badRequest` for a reserved
    ///   header.
    static func decodeRequest(_ bytes: UnsafeRawBufferPointer) throws(RequestError) -> Incoming {
        var reader = RawWireReader(bytes)
        let frameVersion = try reader.readByte()
        guard frameVersion == version else {
            throw RequestError(.codec, "unsupported request envelope version \(frameVersion)")
        }
        let shard = try reader.readVarint()
        guard shard <= UInt64(Int32.max) else { throw RequestError(.codec, "shard out of range") }
        let key = try reader.readString()
        let messageType = try reader.readString()
        let remaining = try reader.readVarint()
        let createdAt = try reader.readInt64()
        let headerCount = try reader.readVarint()
        guard headerCount <= UInt64(reader.remaining / 2) else { throw RequestError(.codec, "header count too large") }
        var headers: [String: String] = [:]
        if headerCount > 0 {
            headers.reserveCapacity(Int(headerCount))
            for _ in 0..<headerCount {
                let name = try reader.readString()
                headers[name] = try reader.readString()
            }
            if hasReservedHeader(headers) {
                throw RequestError(
                    .badRequest, "header names starting with \(ClusterRequest.reservedHeaderPrefix) are reserved")
            }
        }
        let payload = reader.readRest()
        let request = ClusterRequest(
            shard: Int(shard), key: key, messageType: messageType, payload: .bytes(payload), deadline: 0,
            headers: headers, createdAtMilliseconds: createdAt)
        return Incoming(request: request, remainingMicroseconds: remaining)
    }

    /// Appends the reply frame for `outcome` (a value without a wire encoding becomes a `codec` error frame).
    static func encodeReply(_ outcome: Outcome, into writer: inout WireWriter) {
        switch outcome {
        case .success(let value):
            writer.write(version)
            writer.write(statusOK)
            do throws(RequestError) {
                try encodeValue(value, into: &writer)
            } catch {
                writer.bytes.removeAll(keepingCapacity: true)
                encodeError(error, into: &writer)
            }
        case .failure(let error):
            encodeError(error, into: &writer)
        }
    }

    /// Appends an error reply frame.
    static func encodeError(_ error: RequestError, into writer: inout WireWriter) {
        writer.write(version)
        writer.write(statusError)
        writer.write(error.code.rawValue)
        writer.write(error.message)
    }

    /// Decodes a reply frame: `.success(WireBytes)` or the remote error with its code.
    static func decodeReply(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var reader = RawWireReader(bytes)
        do throws(RequestError) {
            let frameVersion = try reader.readByte()
            guard frameVersion == version else {
                throw RequestError(.codec, "unsupported reply frame version \(frameVersion)")
            }
            switch try reader.readByte() {
            case statusOK:
                return .success(WireBytes(reader.readRest()))
            case statusError:
                let code = try reader.readString()
                let message = try reader.readString()
                return .failure(RequestError(RequestError.Code(rawValue: code), message))
            case let other:
                throw RequestError(.codec, "unknown reply status \(other)")
            }
        } catch {
            return .failure(error)
        }
    }
}

extension NATSEnvelope {
    /// Whether `bytes` is a batch frame (version 2).
    static func isBatch(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes[0] == batchVersion
    }

    /// Starts a request batch from `inbox` (`_INBOX.<nuid>.`).
    static func startRequestBatch(inbox: UnsafeBufferPointer<CChar>, into bytes: inout [UInt8]) {
        bytes.append(batchVersion)
        bytes.append(kindRequests)
        appendVarint(UInt64(inbox.count), to: &bytes)
        inbox.withMemoryRebound(to: UInt8.self) { bytes.append(contentsOf: $0) }
    }

    /// Starts a reply batch.
    static func startReplyBatch(into bytes: inout [UInt8]) {
        bytes.append(batchVersion)
        bytes.append(kindReplies)
    }

    /// Appends one entry (`token`, then the v1 `frame` with its length).
    /// - Returns: the offset of the frame in `bytes`.
    static func appendEntry(token: UInt64, frame: UnsafeRawBufferPointer, into bytes: inout [UInt8]) -> Int {
        appendVarint(token, to: &bytes)
        appendVarint(UInt64(frame.count), to: &bytes)
        let start = bytes.count
        bytes.append(contentsOf: frame)
        return start
    }

    /// LEB128, as ``WireWriter/writeVarint(_:)`` writes it.
    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    /// Reads a request batch's header.
    /// - Returns: the requester's inbox and the offset of the first entry.
    /// - Throws: ``RequestError`` `codec` for a malformed header or a kind other than requests.
    static func decodeRequestBatchHeader(
        _ bytes: UnsafeRawBufferPointer
    ) throws(RequestError) -> (inbox: UnsafeRawBufferPointer, entries: Int) {
        var reader = RawWireReader(bytes)
        guard try reader.readByte() == batchVersion, try reader.readByte() == kindRequests else {
            throw RequestError(.codec, "not a request batch")
        }
        let inbox = try reader.readSlice()
        guard !inbox.isEmpty, !inbox.contains(0) else { throw RequestError(.codec, "malformed batch inbox") }
        return (inbox, reader.offset)
    }

    /// Calls `body` with each entry of a batch, from `offset` to the end.
    /// - Throws: ``RequestError`` `codec` at the first malformed entry (the entries before it were passed on).
    static func forEachEntry(
        _ bytes: UnsafeRawBufferPointer, from offset: Int, _ body: (UInt64, UnsafeRawBufferPointer) -> Void
    ) throws(RequestError) {
        var reader = RawWireReader(bytes, offset: offset)
        while reader.remaining > 0 {
            let token = try reader.readVarint()
            body(token, try reader.readSlice())
        }
    }

    /// The offset of a reply batch's first entry.
    /// - Throws: ``RequestError`` `codec` when `bytes` is not a reply batch.
    static func replyBatchEntries(_ bytes: UnsafeRawBufferPointer) throws(RequestError) -> Int {
        guard bytes.count >= 2, bytes[0] == batchVersion, bytes[1] == kindReplies else {
            throw RequestError(.codec, "not a reply batch")
        }
        return 2
    }
}

/// A bounds-checked reader over a borrowed buffer (a libnats message's data), so decoding copies only the fields.
/// The wire format itself (varints, zig-zag) is `WireReader`'s; this only reads from other storage.
struct RawWireReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// A length-prefixed slice, borrowed (not copied).
    mutating func readSlice() throws(RequestError) -> UnsafeRawBufferPointer {
        let count = try readVarint()
        guard count <= UInt64(remaining) else { throw RequestError(.codec, "truncated input") }
        let start = offset
        offset += Int(count)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
    }

    var remaining: Int { bytes.count - offset }

    mutating func readByte() throws(RequestError) -> UInt8 {
        guard offset < bytes.count else { throw RequestError(.codec, "truncated input") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readVarint() throws(RequestError) -> UInt64 {
        try WireReader.decodeVarint { () throws(RequestError) -> UInt8 in try readByte() }
    }

    mutating func readInt64() throws(RequestError) -> Int64 {
        WireReader.zigZagDecode(try readVarint())
    }

    mutating func readString() throws(RequestError) -> String {
        let count = try readVarint()
        guard count <= UInt64(remaining) else { throw RequestError(.codec, "truncated input") }
        let start = offset
        offset += Int(count)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
        // ASCII (keys, type and header names as a rule) is valid UTF-8 as it is: `String(validating:)` runs the
        // stdlib's generic validator, which looks up generic metadata twice per call (~1,100 instructions for a
        // short key in callgrind, 15 % of what a node spent per request for two strings).
        if slice.allSatisfy({ $0 < 0x80 }) { return String(decoding: slice, as: UTF8.self) }
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw RequestError(.codec, "invalid UTF-8")
        }
        return string
    }

    /// The unread bytes, copied.
    mutating func readRest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
    }
}
