#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A joinable thread running one closure: the SQLite store's writer and completion threads, the background
/// tickers.
package struct DedicatedThread: @unchecked Sendable {
    // @unchecked Sendable: `pthread_t` is an integer handle on Linux; joining from another thread is allowed.
    package let handle: pthread_t

    /// Starts a thread running `body`.
    package static func start(_ body: @escaping @Sendable () -> Void) -> DedicatedThread {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, dedicatedThreadMain, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return DedicatedThread(handle: handle)
    }

    /// Whether the calling thread is this one.
    package var isCurrent: Bool { pthread_equal(pthread_self(), handle) != 0 }

    /// Waits for the thread to finish.
    package func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread release its resources when it finishes, without a `join`.
    package func detach() {
        pthread_detach(handle)
    }
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

private func dedicatedThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let box = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
    box.body()
    return nil
}
