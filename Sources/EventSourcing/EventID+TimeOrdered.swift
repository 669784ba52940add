#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension EventID {
    /// A time-ordered random ID in UUID version 7 layout: the Unix time in milliseconds in the top 48 bits, then 74
    /// random bits (version and variant bits set); allocation-free.
    ///
    /// IDs made later sort after earlier ones (across milliseconds), so a store that indexes event IDs in a B-tree
    /// (SQLite) inserts them at the index's right edge instead of at a random leaf: a group commit of N appends
    /// then dirties a few index pages instead of up to N. Unique like ``random()`` for practical purposes (74
    /// random bits per millisecond).
    public static func timeOrdered() -> EventID {
        var generator = SystemRandomNumberGenerator()
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let milliseconds = UInt64(spec.tv_sec) &* 1000 &+ UInt64(spec.tv_nsec / 1_000_000)
        let randomA = (generator.next() as UInt64) & 0x0FFF
        let high = (milliseconds & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | randomA
        let low = (generator.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return EventID(high: high, low: low)
    }
}
