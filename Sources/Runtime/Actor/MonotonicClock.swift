#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Nanoseconds on the monotonic clock: the time base of deadlines.
public enum MonotonicClock {
    /// The current monotonic time in nanoseconds.
    @inlinable
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The monotonic time at coarse (scheduler-tick, a few ms) resolution: about 5× cheaper than ``now()``, for
    /// bookkeeping such as idle times.
    @inlinable
    public static func coarseNow() -> UInt64 {
        var ts = timespec()
        #if os(Linux)
            clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        #else
            clock_gettime(CLOCK_MONOTONIC, &ts)
        #endif
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A deadline `duration` from now, in monotonic nanoseconds.
    @inlinable
    public static func deadline(after duration: Duration) -> UInt64 {
        now() &+ nanoseconds(duration)
    }

    /// `duration` in whole nanoseconds: 0 for negative durations, saturating at `UInt64.max / 2` (so that a
    /// deadline built from it cannot wrap).
    @inlinable
    public static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return min(UInt64.max / 2, whole &+ UInt64(attoseconds / 1_000_000_000))
    }
}
