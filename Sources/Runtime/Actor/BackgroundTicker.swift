import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated thread that calls a closure every `interval` until stopped.
final class BackgroundTicker: Sendable {
    private let running = Atomic<Bool>(true)
    private let parker = Parker()
    private let body: @Sendable () -> Void
    private let intervalNanoseconds: UInt64

    init(interval: Duration, name: String, body: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = interval.components
        self.intervalNanoseconds = max(1_000_000, UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
        self.body = body
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        precondition(pthread_create(&handle, nil, tickerMain, box.toOpaque()) == 0)
        pthread_detach(handle)
    }

    fileprivate func loop() {
        while running.load(ordering: .relaxed) {
            parker.park(timeoutNanoseconds: intervalNanoseconds)
            if !running.load(ordering: .relaxed) { return }
            body()
        }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        parker.unpark()
    }
}

private func tickerMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let ticker = Unmanaged<BackgroundTicker>.fromOpaque(argument!).takeRetainedValue()
    ticker.loop()
    return nil
}
