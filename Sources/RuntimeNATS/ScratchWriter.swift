import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// A per-thread reusable ``WireWriter``, so encoding a request or reply allocates nothing in steady state.
///
/// ``take()`` moves the thread's writer out (emptied, capacity kept) and ``give(_:)`` moves it back; a nested use
/// on the same thread (a reply handler that sends a request) simply finds no writer and starts a fresh one.
final class ScratchWriter {
    private var writer: WireWriter?

    private init() { writer = WireWriter(reservingCapacity: 1024) }

    /// The thread-specific-data key; its destructor releases a thread's writer when the thread exits.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, scratchWriterDestructor) == 0, "pthread_key_create failed")
        return key
    }()

    /// The calling thread's writer, empty.
    static func take() -> WireWriter {
        guard let pointer = pthread_getspecific(key) else {
            let scratch = ScratchWriter()
            pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
            return scratch.writer.take()!
        }
        let scratch = Unmanaged<ScratchWriter>.fromOpaque(pointer).takeUnretainedValue()
        guard var writer = scratch.writer.take() else { return WireWriter(reservingCapacity: 256) }
        writer.bytes.removeAll(keepingCapacity: true)
        return writer
    }

    /// Returns `writer` to the calling thread for reuse.
    static func give(_ writer: consuming WireWriter) {
        guard let pointer = pthread_getspecific(key) else { return }
        let scratch = Unmanaged<ScratchWriter>.fromOpaque(pointer).takeUnretainedValue()
        if scratch.writer == nil, writer.bytes.capacity <= 1 << 20 { scratch.writer = writer }
    }
}

private func scratchWriterDestructor(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    Unmanaged<ScratchWriter>.fromOpaque(pointer).release()
}
