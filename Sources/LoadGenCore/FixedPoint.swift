/// Allocation-free number formatting for per-request CSV rows.
enum FixedPoint {
    /// Appends `nanoseconds` as seconds with 4 decimals (Go's `%4.4f`), rounded half up.
    /// - Parameters:
    ///   - nanoseconds: the duration.
    ///   - out: the output bytes.
    static func appendSeconds(_ nanoseconds: UInt64, to out: inout [UInt8]) {
        let tenThousandths = (nanoseconds + 50_000) / 100_000
        appendInteger(Int(tenThousandths / 10_000), to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = Int(tenThousandths % 10_000)
        out.append(UInt8(48 + fraction / 1000))
        out.append(UInt8(48 + fraction / 100 % 10))
        out.append(UInt8(48 + fraction / 10 % 10))
        out.append(UInt8(48 + fraction % 10))
    }

    /// Appends a decimal integer.
    /// - Parameters:
    ///   - value: the integer.
    ///   - out: the output bytes.
    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendInteger(-value, to: &out)
            return
        }
        if value >= 10 { appendInteger(value / 10, to: &out) }
        out.append(UInt8(48 + value % 10))
    }
}
