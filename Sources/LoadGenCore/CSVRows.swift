/// A loop's buffer of `-o csv` rows (hey's columns, `%4.4f` seconds), flushed in 64 KB batches.
struct CSVRows {
    private var bytes: [UInt8] = []

    /// `,0.0000,0.0000`: the DNS and request-write columns.
    private static let twoZeroColumns: [UInt8] = Array(",0.0000,0.0000".utf8)

    /// Whether the buffer should be flushed.
    var isFull: Bool { bytes.count >= 64 * 1024 }

    /// Appends one row, prefixed by a newline as hey writes them.
    mutating func append(totalNs: UInt64, dialNs: UInt64, waitNs: UInt64, readNs: UInt64, status: Int, offsetNs: UInt64)
    {
        if bytes.capacity == 0 { bytes.reserveCapacity(80 * 1024) }
        bytes.append(UInt8(ascii: "\n"))
        FixedPoint.appendSeconds(totalNs, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        FixedPoint.appendSeconds(dialNs, to: &bytes)
        // DNS (resolved once before the run) and Request-write (not timed) are 0.
        bytes.append(contentsOf: Self.twoZeroColumns)
        bytes.append(UInt8(ascii: ","))
        FixedPoint.appendSeconds(waitNs, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        FixedPoint.appendSeconds(readNs, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        FixedPoint.appendInteger(status, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        FixedPoint.appendSeconds(offsetNs, to: &bytes)
    }

    /// Writes the buffered rows to `sink` and empties the buffer.
    mutating func flush(to sink: OutputSink) {
        guard !bytes.isEmpty else { return }
        sink.write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
