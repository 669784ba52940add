import Dispatch

/// Runs an executable's async entry point on the cooperative pool while the main thread waits, then returns.
///
/// An `@main` type with an `async` `main` leaves the main thread through `dispatchMain()` (libdispatch parks it
/// with `pthread_exit` and a thread-specific-data destructor); valgrind 3.19 (Debian 12) crashes at the next
/// thread start of such a process, which kept the services out of `make bench-instructions`. Nothing here needs
/// the main queue or the main actor, so the main thread just blocks until the work is done.
///
/// ```swift
/// // main.swift
/// blockingMain { await CounterServiceCommand.main() }
/// ```
/// - Parameter body: the program; it may call `exit` itself.
public func blockingMain(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        await body()
        done.signal()
    }
    done.wait()
}
