#if canImport(CJemalloc)
    import CJemalloc
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// A point-in-time view of the process heap, read from jemalloc and the kernel.
///
/// Linking `CJemalloc` makes jemalloc the allocator of the whole process (Swift objects and arrays included),
/// so `allocated` counts every live heap byte the process holds.
public struct HeapStatistics: Sendable, Equatable {
    /// Bytes in live allocations (`stats.allocated`).
    public var allocated: Int
    /// Bytes in active pages backing live allocations (`stats.active`).
    public var active: Int
    /// Bytes in physically resident pages mapped by the allocator (`stats.resident`).
    public var resident: Int
    /// The resident set size of the whole process, from `/proc/self/statm` (0 where unavailable).
    public var processRSS: Int

    /// Whether jemalloc is the process allocator (false only in builds made with `CLSTR_SYSTEM_MALLOC=1`).
    public static var isJemalloc: Bool {
        #if canImport(CJemalloc)
            return true
        #else
            return false
        #endif
    }

    /// Reads the current statistics; refreshes jemalloc's cached counters first (`epoch`).
    ///
    /// Without jemalloc (a sanitizer build) the allocator figures are 0; the RSS is still read.
    public static func current() -> HeapStatistics {
        #if canImport(CJemalloc)
            var epoch: UInt64 = 1
            _ = mallctl("epoch", nil, nil, &epoch, MemoryLayout<UInt64>.size)
            return HeapStatistics(
                allocated: readSize("stats.allocated"),
                active: readSize("stats.active"),
                resident: readSize("stats.resident"),
                processRSS: readProcessRSS()
            )
        #else
            return HeapStatistics(allocated: 0, active: 0, resident: 0, processRSS: readProcessRSS())
        #endif
    }

    /// Bytes the calling thread allocated minus the bytes it freed, since it started (`thread.allocated` −
    /// `thread.deallocated`); 0 without jemalloc.
    ///
    /// Other threads' allocations do not show: the difference across a synchronous block measures what that block
    /// allocated and kept, even while other threads (other tests) allocate.
    public static func threadNetAllocated() -> Int {
        #if canImport(CJemalloc)
            return Int(truncatingIfNeeded: readUInt64("thread.allocated") &- readUInt64("thread.deallocated"))
        #else
            return 0
        #endif
    }

    /// The jemalloc version string, for reports.
    public static var allocatorVersion: String {
        #if canImport(CJemalloc)
            var pointer: UnsafePointer<CChar>? = nil
            var length = MemoryLayout<UnsafePointer<CChar>?>.size
            guard mallctl("version", &pointer, &length, nil, 0) == 0, let pointer else { return "unknown" }
            return String(cString: pointer)
        #else
            return "glibc"
        #endif
    }

    #if canImport(CJemalloc)
        private static func readUInt64(_ name: String) -> UInt64 {
            var value: UInt64 = 0
            var length = MemoryLayout<UInt64>.size
            return mallctl(name, &value, &length, nil, 0) == 0 ? value : 0
        }

        private static func readSize(_ name: String) -> Int {
            var value = 0
            var length = MemoryLayout<Int>.size
            return mallctl(name, &value, &length, nil, 0) == 0 ? value : 0
        }
    #endif

    private static func readProcessRSS() -> Int {
        #if os(Linux)
            guard let file = fopen("/proc/self/statm", "r") else { return 0 }
            defer { fclose(file) }
            var size = 0
            var resident = 0
            guard
                withUnsafeMutablePointer(
                    to: &size,
                    { s in
                        withUnsafeMutablePointer(to: &resident, { r in readTwo(file, s, r) })
                    })
            else { return 0 }
            return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
        #else
            return 0
        #endif
    }

    #if os(Linux)
        private static func readTwo(
            _ file: UnsafeMutablePointer<FILE>, _ a: UnsafeMutablePointer<Int>, _ b: UnsafeMutablePointer<Int>
        ) -> Bool {
            var buffer = [CChar](repeating: 0, count: 128)
            guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
            let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let fields = text.split(separator: " ")
            guard fields.count >= 2, let size = Int(fields[0]), let rss = Int(fields[1]) else { return false }
            a.pointee = size
            b.pointee = rss
            return true
        }
    #endif
}
