/// The parameters a path matched, in pattern order: views into the request's path, nothing copied.
public struct HTTPPathParameters {
    @usableFromInline let path: UnsafeRawBufferPointer
    // Inline storage for up to `HTTPRouter.maxParameters` (start << 32 | count) pairs: no array to allocate.
    @usableFromInline var ranges: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// How many parameters there are.
    public private(set) var count = 0

    init(path: UnsafeRawBufferPointer) {
        self.path = path
    }

    mutating func append(start: Int, count length: Int) {
        let packed = UInt64(start) << 32 | UInt64(length)
        switch count {
        case 0: ranges.0 = packed
        case 1: ranges.1 = packed
        case 2: ranges.2 = packed
        default: ranges.3 = packed
        }
        count += 1
    }

    /// The parameter at `index` (in pattern order).
    public subscript(index: Int) -> HTTPPathParameter {
        precondition(index >= 0 && index < count, "parameter \(index) of \(count)")
        let packed: UInt64
        switch index {
        case 0: packed = ranges.0
        case 1: packed = ranges.1
        case 2: packed = ranges.2
        default: packed = ranges.3
        }
        let start = Int(packed >> 32)
        return HTTPPathParameter(
            raw: UnsafeRawBufferPointer(rebasing: path[start..<(start + Int(packed & 0xFFFF_FFFF))]))
    }
}

/// One path parameter: its raw (percent-encoded) bytes in the request, and their decoding.
public struct HTTPPathParameter {
    /// The raw bytes, still percent-encoded.
    public let raw: UnsafeRawBufferPointer

    /// Whether the segment is empty.
    public var isEmpty: Bool { raw.isEmpty }

    /// Calls `body` with the decoded bytes: the raw bytes themselves when there is no escape, otherwise a decoded
    /// copy in a temporary buffer. Allocates nothing for segments up to 1 KiB.
    /// - Parameter body: receives valid UTF-8.
    /// - Returns: what `body` returns, or nil when an escape is malformed or the result is not valid UTF-8.
    public func withDecoded<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        try PercentDecoding.withDecodedSegment(raw, body)
    }

    /// The decoded text (allocates for more than 15 UTF-8 bytes, as any `String` does).
    /// - Returns: nil when an escape is malformed or the result is not valid UTF-8.
    public func decoded() -> String? {
        PercentDecoding.decodeSegment(raw)
    }
}
