import ClstrRuntime

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
enum NATSEnvelope {
    /// The version this build writes and the only one it reads.
    static let version: UInt8 = 1
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
        if let codable = value as? any WireCodable {
            codable.encode(to: &writer)
        } else if let wire = value as? WireBytes {
            writer.bytes.append(contentsOf: wire.bytes)
        } else {
            throw RequestError(.codec, "\(type(of: value)) is not WireCodable and cannot cross the NATS transport")
        }
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

/// A bounds-checked reader over a borrowed buffer (a libnats message's data), so decoding copies only the fields.
/// The wire format itself (varints, zig-zag) is `WireReader`'s; this only reads from other storage.
struct RawWireReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

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
        guard let string = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        else { throw RequestError(.codec, "invalid UTF-8") }
        return string
    }

    /// The unread bytes, copied.
    mutating func readRest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
    }
}
