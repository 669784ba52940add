import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A dedicated thread that calls a closure every `interval` (at least 100 µs) until stopped: the registry's
/// passivation sweeps and the NATS transport's deadline sweeps.
package final class BackgroundTicker: Sendable {
    private let running = Atomic<Bool>(true)
    private let parker = Parker()
    private let body: @Sendable () -> Void
    private let intervalNanoseconds: UInt64

    package init(interval: Duration, body: @escaping @Sendable () -> Void) {
        self.intervalNanoseconds = max(100_000, MonotonicClock.nanoseconds(interval))
        self.body = body
        // The thread keeps the ticker alive until `stop()` lets its loop return.
        DedicatedThread.start { [self] in loop() }.detach()
    }

    fileprivate func loop() {
        while running.load(ordering: .relaxed) {
            parker.park(timeoutNanoseconds: intervalNanoseconds)
            if !running.load(ordering: .relaxed) { return }
            body()
        }
    }

    /// Stops the thread: it wakes at once, returns without another call and releases `body`.
    package func stop() {
        running.store(false, ordering: .relaxed)
        parker.unpark()
    }
}
