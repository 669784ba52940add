import Dispatch

/// A task executor whose jobs run on a serial dispatch queue of their own (an overcommitting queue: it gets a
/// thread even when the cooperative pool is busy), for tests that block (sockets, child processes, polling).
///
/// Blocking one of the cooperative pool's threads (two on a 2-core machine) would stall every other suite's
/// timers while the test waits; running the test's body here keeps the pool free and the test's task-locals
/// (swift-testing's current test) intact.
public final class BlockingExecutor: TaskExecutor {
    private let queue: DispatchQueue

    /// Creates an executor with its own queue.
    public init(label: String = "testkit.blocking") {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

/// Runs `body` (which may block) on a ``BlockingExecutor`` instead of the cooperative pool.
/// - Parameter body: the test code.
/// - Returns: what `body` returns.
public func withBlockingAllowed<T>(_ body: () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(BlockingExecutor()) {
        try await body()
    }
}
