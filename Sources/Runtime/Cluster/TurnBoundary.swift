import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Work a thread defers to the end of its current turn (a transport's coalesced messages).
public protocol TurnEndFlusher: AnyObject {
    /// Sends what the turn left buffered; called once per ``TurnBoundary/defer(_:)`` on the same thread.
    func flushAtEndOfTurn()
}

/// An object a thread keeps in its ``TurnBoundary`` (``TurnBoundary/local(for:make:)``) that can outlive its use.
public protocol TurnBoundaryLocal: AnyObject {
    /// Whether the owner is closed or gone: the boundary then drops the object at the end of a turn after a
    /// ``TurnBoundary/retireLocals()`` call. Called on the object's thread.
    var isRetired: Bool { get }
}

/// The end of an event-loop turn, as a place to flush coalesced work: a transport that sees many requests (or
/// replies) for one destination during one turn sends them as one message when the turn ends.
///
/// A thread has a boundary while it runs a loop (``beginLoop()``, then ``endTurn()`` after each turn; the epoll
/// engine does this) or inside ``run(_:)``. Elsewhere ``current`` is `nil` and callers send at once. The boundary
/// is thread-confined: only its own thread touches it.
///
/// ```swift
/// if let boundary = TurnBoundary.current {
///     let outbox = boundary.local(for: ObjectIdentifier(self)) { Outbox() }
///     outbox.append(message)           // schedules itself once per turn with boundary.defer(outbox)
/// } else {
///     send(message)
/// }
/// ```
public final class TurnBoundary {
    // Thread-confined (see the type's discussion) and never accessed overlapping: no dynamic exclusivity checks.
    @exclusivity(unchecked) @usableFromInline var pending: [any TurnEndFlusher] = []
    @exclusivity(unchecked) private var draining: [any TurnEndFlusher] = []
    @exclusivity(unchecked) private var locals: [(key: ObjectIdentifier, value: AnyObject)] = []
    /// The value of ``retirements`` when this thread last dropped its retired locals.
    @exclusivity(unchecked) @usableFromInline var retirementsSeen = 0
    /// Open turns on this thread: a loop, or nested ``run(_:)`` calls. 0: no boundary.
    @exclusivity(unchecked) private var depth = 0

    private init() {}

    /// Calls of ``retireLocals()`` so far.
    @usableFromInline static let retirements = Atomic<Int>(0)

    /// Asks every thread to drop its locals that are ``TurnBoundaryLocal/isRetired`` at the end of its next turn
    /// (a closed transport's buffers; the other threads' boundaries cannot be touched from here). Threads that
    /// never end another turn keep them until they exit.
    public static func retireLocals() {
        // Releasing: a thread that loads this count (acquiring, in `dropRetiredLocals`) sees what the caller did
        // before (the closed flag that makes its locals retired).
        retirements.wrappingAdd(1, ordering: .releasing)
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, turnBoundaryDestructor) == 0, "pthread_key_create failed")
        return key
    }()

    private static func forThread() -> TurnBoundary {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<TurnBoundary>.fromOpaque(pointer).takeUnretainedValue()
        }
        let boundary = TurnBoundary()
        pthread_setspecific(key, Unmanaged.passRetained(boundary).toOpaque())
        return boundary
    }

    /// The calling thread's boundary, when it has an open turn; `nil` otherwise (send at once).
    public static var current: TurnBoundary? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        let boundary = Unmanaged<TurnBoundary>.fromOpaque(pointer).takeUnretainedValue()
        return boundary.depth > 0 ? boundary : nil
    }

    /// Marks the calling thread as a loop thread for good: it has a boundary from now on and calls ``endTurn()``
    /// after every turn.
    /// - Returns: the thread's boundary.
    public static func beginLoop() -> TurnBoundary {
        let boundary = forThread()
        boundary.depth += 1
        return boundary
    }

    /// Runs `body` as one turn: what it defers is flushed when it returns (unless the thread already has an open
    /// turn, which then flushes it at its own end).
    /// - Parameter body: the turn.
    /// - Returns: what `body` returns.
    public static func run<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let boundary = forThread()
        boundary.depth += 1
        defer {
            boundary.depth -= 1
            if boundary.depth == 0 { boundary.endTurn() }
        }
        return try body()
    }

    /// Whether flushers wait for the end of the turn (a loop may then hold them over while more work is ready, see
    /// ``EpollServerLoop``).
    @inlinable
    public var hasDeferredWork: Bool { !pending.isEmpty }

    /// Schedules `flusher` for the end of the current turn (the caller remembers that it did, to defer once).
    public func `defer`(_ flusher: any TurnEndFlusher) {
        pending.append(flusher)
    }

    /// The object stored under `key` on this thread, made by `make` the first time.
    /// - Parameters:
    ///   - key: the owner's identity. An identifier can be reused once its owner is gone: either the stored
    ///     object keeps its owner alive, or the caller checks that the object found is its own (and replaces it
    ///     with ``replaceLocal(for:with:)`` if not). An object that must not outlive its owner's use conforms to
    ///     ``TurnBoundaryLocal``.
    ///   - make: makes the object.
    /// - Returns: the thread's object for `key`.
    public func local<T: AnyObject>(for key: ObjectIdentifier, make: () -> T) -> T {
        for entry in locals where entry.key == key {
            return unsafeDowncast(entry.value, to: T.self)
        }
        let value = make()
        locals.append((key, value))
        return value
    }

    /// Stores `value` under `key` in place of what is there (an object whose owner died and whose identifier
    /// was reused).
    public func replaceLocal(for key: ObjectIdentifier, with value: AnyObject) {
        locals.removeAll { $0.key == key }
        locals.append((key, value))
    }

    /// Ends the turn: runs the deferred flushers (and any they defer in turn), then drops retired locals when
    /// ``retireLocals()`` was called since the last time. Cheap when nothing was deferred or retired: one
    /// relaxed load.
    @inlinable
    public func endTurn() {
        if !pending.isEmpty { flushPending() }
        // Relaxed: only a hint that something changed; `dropRetiredLocals` loads the count again, acquiring.
        if Self.retirements.load(ordering: .relaxed) != retirementsSeen { dropRetiredLocals() }
    }

    @usableFromInline
    func dropRetiredLocals() {
        // Acquiring: pairs with the releasing increment in `retireLocals()`.
        retirementsSeen = Self.retirements.load(ordering: .acquiring)
        locals.removeAll { ($0.value as? any TurnBoundaryLocal)?.isRetired ?? false }
    }

    @usableFromInline
    func flushPending() {
        while !pending.isEmpty {
            // Two arrays swapped, so a flusher that defers again lands in the next round, and no storage is
            // reallocated per turn.
            swap(&pending, &draining)
            for flusher in draining { flusher.flushAtEndOfTurn() }
            draining.removeAll(keepingCapacity: true)
        }
    }
}

private func turnBoundaryDestructor(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    Unmanaged<TurnBoundary>.fromOpaque(pointer).release()
}
