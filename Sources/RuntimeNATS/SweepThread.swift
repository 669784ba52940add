import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A dedicated thread that runs `body` every `interval` until ``stop()``: the deadline sweep of a transport.
final class SweepThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let interval: timespec
    private let body: @Sendable () -> Void

    /// Starts the thread.
    /// - Parameters:
    ///   - interval: the pause between sweeps (at least 100 µs).
    ///   - body: the sweep.
    init(interval: Duration, body: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = max(100_000, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        self.interval = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        self.body = body
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self)
        precondition(pthread_create(&thread, nil, sweepThreadMain, retained.toOpaque()) == 0, "pthread_create failed")
        pthread_detach(thread)
    }

    fileprivate func loop() {
        // Relaxed: the flag carries no data; the thread only needs to see it eventually (within one interval).
        while running.load(ordering: .relaxed) {
            var pause = interval
            var left = timespec()
            while nanosleep(&pause, &left) != 0 { pause = left }
            guard running.load(ordering: .relaxed) else { return }
            body()
        }
    }

    /// Stops the thread after its current pause (it then releases `body`).
    func stop() {
        running.store(false, ordering: .relaxed)
    }
}

private func sweepThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let thread = Unmanaged<SweepThread>.fromOpaque(argument!).takeRetainedValue()
    thread.loop()
    return nil
}
