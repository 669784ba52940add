import Foundation

/// Runs `body` on a thread of its own and awaits its result.
///
/// The cooperative pool has as many threads as cores (two here): a test that blocks one of them (a condition wait,
/// a join, a spin) starves every other suite's awaits and timers. A test that must block does it through here.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// A value behind a lock whose changes wake the threads waiting for a condition on it: a test waits for an event
/// instead of polling or sleeping.
public final class WaitableState<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value locked, then wakes every waiter to check its condition again.
    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&value)
    }

    /// Blocks the calling thread until `predicate` holds or `seconds` pass. Off the cooperative pool only
    /// (a dedicated thread, an actor's worker thread, or through ``wait(seconds:until:)-async``).
    /// - Returns: whether the predicate held.
    public func blockingWait(seconds: Double = 10, until predicate: (Value) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(value) {
            if !condition.wait(until: deadline) { return predicate(value) }
        }
        return true
    }

    /// Waits until `predicate` holds or `seconds` pass, on a thread of its own (see ``offPool(_:)``).
    /// - Returns: whether the predicate held.
    public func wait(seconds: Double = 10, until predicate: @escaping @Sendable (Value) -> Bool) async -> Bool {
        await offPool { self.blockingWait(seconds: seconds, until: predicate) }
    }
}

/// Polls `condition` (bounded by `seconds`) between short task sleeps: for a state that announces no event, without
/// holding a thread of the cooperative pool.
/// - Returns: whether the condition held in time.
public func eventually(seconds: Double = 10, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
