#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// A byte sink several event loops write into (stdout for `-o csv`, or memory in tests).
///
/// Writes are serialized by a mutex; loops write in 64 KB batches, so the lock is taken rarely.
public final class OutputSink: Sendable {
    private let toStandardOutput: Bool
    private let captured = Mutex<[UInt8]>([])

    /// A sink that writes to standard output.
    public static func standardOutput() -> OutputSink { OutputSink(toStandardOutput: true) }

    /// A sink that keeps everything in memory (for tests).
    public static func memory() -> OutputSink { OutputSink(toStandardOutput: false) }

    private init(toStandardOutput: Bool) {
        self.toStandardOutput = toStandardOutput
    }

    /// Writes bytes.
    /// - Parameter bytes: the bytes.
    public func write(_ bytes: [UInt8]) {
        captured.withLock { buffer in
            if toStandardOutput {
                writeAll(fileDescriptor: 1, bytes)
            } else {
                buffer.append(contentsOf: bytes)
            }
        }
    }

    /// Writes text.
    /// - Parameter text: the text (UTF-8).
    public func write(_ text: String) {
        write(Array(text.utf8))
    }

    /// Everything written so far (memory sinks only).
    public var contents: String {
        captured.withLock { String(decoding: $0, as: UTF8.self) }
    }
}

/// Writes all of `bytes` to a file descriptor, retrying short writes and EINTR (also the CLI's way to stderr).
/// - Parameters:
///   - fileDescriptor: e.g. 1 for standard output.
///   - bytes: the bytes.
public func writeAll(fileDescriptor: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}
