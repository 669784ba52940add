/// Decodes a chunked request body (RFC 9112 §7.1) incrementally and in place, allocating nothing.
///
/// The decoder is handed the bytes of the current request from its first byte (head included) each time new bytes
/// arrive. It moves each chunk's data down over the framing already read, so that the decoded body always follows
/// the head contiguously (`headLength..<headLength + bodyLength`) and only the unread rest follows it: the bytes a
/// connection keeps for a partial request are bounded by the head, the body limit and one partial line, whatever
/// the chunk sizes. After ``Result/needMore`` the caller shortens its buffer to ``Result/needMore(keep:)`` bytes.
///
/// Strict where the framing decides where the request ends (request smuggling): sizes are hexadecimal digits only
/// (at most 15, so they cannot overflow), every line ends with CRLF (a bare LF or CR is refused). Chunk extensions
/// are skipped (at most ``maxLineBytes`` per line); trailer fields are accepted and dropped (at most
/// ``HTTPLimits/maxHeadBytes`` in all). A body over ``HTTPLimits/maxBodyBytes`` is refused with 413 as soon as a
/// chunk size announces it; a malformed chunk with 400.
public struct HTTPChunkedDecoder: Sendable {
    /// The longest chunk-size line (size and extensions) or trailer line accepted.
    public static let maxLineBytes = 4_096

    /// What one call found.
    public enum Result: Sendable, Equatable {
        /// The body is incomplete; keep the first `keep` bytes of the request (the rest was moved down or dropped).
        case needMore(keep: Int)
        /// The body is complete: decoded at `headLength..<headLength + bodyLength`; the request's encoding ends at
        /// `end` (the next request starts there).
        case complete(end: Int)
        /// The chunked body is malformed or too large.
        case failure(HTTPParseError)
    }

    enum Phase: Sendable, Equatable {
        /// Reading the hexadecimal digits of a chunk size.
        case size
        /// Skipping a chunk extension (or whitespace before it) up to CR.
        case extensions
        /// CR of a size line seen; LF must follow.
        case sizeLF
        /// Copying chunk data.
        case data
        /// The CR after a chunk's data.
        case dataCR
        /// The LF after a chunk's data.
        case dataLF
        /// At the start of a trailer line (or the final empty line).
        case trailerStart
        /// Inside a trailer field line, up to CR.
        case trailerLine
        /// CR of a trailer line seen; LF must follow.
        case trailerLF
        /// CR of the final empty line seen; LF must follow.
        case finalLF
    }

    /// Where the head ends (the body's first byte).
    public let headLength: Int
    /// The decoded body length so far.
    public private(set) var bodyLength = 0
    private let maxBodyBytes: Int
    private let maxTrailerBytes: Int
    /// The next raw byte to read (relative to the request's first byte).
    private var scan: Int
    private var phase = Phase.size
    private var digits = 0
    private var size = 0
    /// Bytes of the current line (size line with extensions, or trailer line).
    private var lineBytes = 0
    private var trailerBytes = 0

    /// Starts decoding the body of a request whose head is `headLength` bytes long.
    public init(headLength: Int, limits: HTTPLimits) {
        self.headLength = headLength
        self.scan = headLength
        self.maxBodyBytes = limits.maxBodyBytes
        self.maxTrailerBytes = limits.maxHeadBytes
    }

    /// Decodes what `request` (the bytes of the request from its first byte) holds beyond what was decoded before.
    /// - Parameter request: the request's bytes; chunk data is moved down within them.
    /// - Returns: whether more bytes are needed (and how many to keep), the end of the request, or the error.
    public mutating func decode(_ request: UnsafeMutableRawBufferPointer) -> Result {
        let count = request.count
        while scan < count {
            let byte = request[scan]
            switch phase {
            case .size:
                if let value = hexValue(byte) {
                    digits += 1
                    lineBytes += 1
                    if digits > 15 { return .failure(HTTPParseError(.badRequest, "chunk size too long")) }
                    size = size << 4 | value
                    scan += 1
                } else if digits == 0 {
                    return .failure(HTTPParseError(.badRequest, "malformed chunk size"))
                } else if byte == cr {
                    phase = .sizeLF
                    scan += 1
                } else if byte == 0x3B || byte == space || byte == tab {
                    phase = .extensions
                } else {
                    return .failure(HTTPParseError(.badRequest, "malformed chunk size"))
                }
            case .extensions:
                if byte == cr {
                    phase = .sizeLF
                } else if (byte < space && byte != tab) || byte == 0x7F {
                    return .failure(HTTPParseError(.badRequest, "invalid character in chunk extension"))
                }
                lineBytes += 1
                if lineBytes > Self.maxLineBytes {
                    return .failure(HTTPParseError(.badRequest, "chunk size line too long"))
                }
                scan += 1
            case .sizeLF:
                guard byte == lf else { return .failure(HTTPParseError(.badRequest, "chunk size line without CRLF")) }
                scan += 1
                lineBytes = 0
                digits = 0
                if size == 0 {
                    phase = .trailerStart
                } else if size > maxBodyBytes - bodyLength {
                    return .failure(HTTPParseError(.payloadTooLarge, "body larger than \(maxBodyBytes) bytes"))
                } else {
                    phase = .data
                }
            case .data:
                let take = min(size, count - scan)
                let destination = headLength + bodyLength
                if destination != scan {
                    (request.baseAddress! + destination).copyMemory(from: request.baseAddress! + scan, byteCount: take)
                }
                bodyLength += take
                size -= take
                scan += take
                if size == 0 { phase = .dataCR }
            case .dataCR:
                guard byte == cr else { return .failure(HTTPParseError(.badRequest, "chunk data without CRLF")) }
                phase = .dataLF
                scan += 1
            case .dataLF:
                guard byte == lf else { return .failure(HTTPParseError(.badRequest, "chunk data without CRLF")) }
                phase = .size
                scan += 1
            case .trailerStart:
                if byte == cr {
                    phase = .finalLF
                    scan += 1
                } else if byte == lf {
                    return .failure(HTTPParseError(.badRequest, "chunked body without final CRLF"))
                } else {
                    phase = .trailerLine
                }
            case .trailerLine:
                if byte == cr {
                    phase = .trailerLF
                } else if (byte < space && byte != tab) || byte == 0x7F {
                    return .failure(HTTPParseError(.badRequest, "invalid character in trailer"))
                }
                trailerBytes += 1
                if trailerBytes > maxTrailerBytes {
                    return .failure(
                        HTTPParseError(.requestHeaderFieldsTooLarge, "trailers larger than \(maxTrailerBytes) bytes"))
                }
                scan += 1
            case .trailerLF:
                guard byte == lf else { return .failure(HTTPParseError(.badRequest, "trailer line without CRLF")) }
                phase = .trailerStart
                scan += 1
            case .finalLF:
                guard byte == lf else {
                    return .failure(HTTPParseError(.badRequest, "chunked body without final CRLF"))
                }
                scan += 1
                return .complete(end: scan)
            }
        }
        // Drop the framing read so far: the decoded body, then the unread rest (none: everything was read).
        let keep = headLength + bodyLength
        scan = keep
        return .needMore(keep: keep)
    }
}

private func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte &- 0x30)
    case 0x41...0x46: Int(byte &- 0x41 &+ 10)
    case 0x61...0x66: Int(byte &- 0x61 &+ 10)
    default: nil
    }
}
