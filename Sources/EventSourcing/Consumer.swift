import ClstrRuntime
import Foundation
import Logging
import Synchronization

/// Options of a ``Consumer``.
public struct ConsumerOptions: Sendable {
    /// Events read from the global log per batch.
    public var batchSize: Int = 256
    /// Handler attempts per event before it is parked (recorded in the checkpoint store, counted, skipped).
    public var maxAttempts: Int = 5
    /// The delay before the second attempt; doubles with every further attempt, up to ``maxBackoff``. Each delay
    /// is jittered to a random value between half and all of it.
    public var initialBackoff: Duration = .milliseconds(50)
    /// The longest delay between attempts (also between reads after a store failure).
    public var maxBackoff: Duration = .seconds(10)
    /// Save the checkpoint after this many handled events, and whenever the consumer reaches the head or stops.
    /// 1 (the default) saves after every event.
    public var checkpointEvery: Int = 1

    public init() {}
}

/// Lock-free gauges and counters of one consumer (relaxed atomics: a scrape needs no ordering).
public final class ConsumerMetrics: Sendable {
    /// The consumer's name (a bounded label: one per consumer).
    public let name: String
    /// The global position of the last event handled or parked.
    public let position = Atomic<UInt64>(0)
    /// The head position the consumer knows of (updated by every append observation).
    public let head = Atomic<UInt64>(0)
    /// Events handled successfully.
    public let handled = Atomic<Int>(0)
    /// Handler attempts that failed and were retried.
    public let retries = Atomic<Int>(0)
    /// Events parked.
    public let parked = Atomic<Int>(0)
    /// Checkpoint saves that failed (retried with the next save).
    public let checkpointFailures = Atomic<Int>(0)

    /// Counts the events between two positions (``EventStore/eventCount(after:upTo:)`` of the consumer's store,
    /// installed by the ``Consumer``; `head − position` until then).
    private let counter = Mutex<(@Sendable (UInt64, UInt64) -> UInt64)?>(nil)

    public init(name: String) { self.name = name }

    /// The events after the position up to the known head (0 when at or past it): the consumer's lag, counted by
    /// its store (``EventStore/eventCount(after:upTo:)``: exact on memory and SQLite; on JetStream the messages
    /// behind, a lower bound of the events when appends hold several). Read when scraped (takes a lock).
    public var lag: UInt64 {
        let head = head.load(ordering: .relaxed)
        let position = position.load(ordering: .relaxed)
        if let count = counter.withLock({ $0 }) { return count(position, head) }
        return head > position ? head - position : 0
    }

    /// head − position: the lag in positions (equal to ``lag`` where positions are dense; on JetStream about
    /// 65,536 per commit behind).
    public var positionLag: UInt64 {
        let head = head.load(ordering: .relaxed)
        let position = position.load(ordering: .relaxed)
        return head > position ? head - position : 0
    }

    /// Makes ``lag`` count events the way `store` numbers them.
    func countEvents(with store: any EventStore) {
        counter.withLock { $0 = { [weak store] position, head in store?.eventCount(after: position, upTo: head) ?? 0 } }
    }
}

/// A projection or process manager fed from the global log: it reads from its stored checkpoint, catches up,
/// then follows the log live (woken by appends through ``EventStore/observeAppends(_:)``, no polling).
///
/// - **One event at a time**: the handler runs on the consumer's own thread (never the cooperative pool), for
///   one event at a time, in position order; it may block.
/// - **At-least-once**: the checkpoint is saved only after the handler succeeded (every
///   ``ConsumerOptions/checkpointEvery`` events, at the head and at stop), so after a crash the events since the
///   last saved checkpoint are handled again. Handlers must be idempotent (track the position, or upsert).
/// - **Retries and parking**: a handler error is retried with capped exponential backoff and jitter; after
///   ``ConsumerOptions/maxAttempts`` attempts the event is parked — recorded with
///   ``CheckpointStore/park(_:completion:)``, counted, skipped — so it never blocks the events behind it. An
///   ``EventStoreError/Code/codec`` error (unknown type, undecodable payload) is parked at once: retrying cannot
///   help.
/// - **Caught up** when a read found nothing after the position and the position was at the head
///   (``isCaughtUp``, ``waitUntilCaughtUp()``); the lag (``ConsumerMetrics/lag``, events between the position and
///   the head as the store counts them) stays current while live.
public final class Consumer: Sendable {
    /// The handler: throws to have the event retried.
    public typealias Handler = @Sendable (RecordedEvent) throws -> Void

    public let name: String
    public let metrics: ConsumerMetrics
    private let store: any EventStore
    private let checkpoints: any CheckpointStore
    private let options: ConsumerOptions
    private let handler: Handler
    private let logger: Logger

    /// Wake-ups and stop. The four `nonisolated(unsafe)` flags below are read and written only with `condition`
    /// locked, which makes them safe to share between the consumer's thread, observers and `stop()`.
    private let condition = NSCondition()
    private nonisolated(unsafe) var generation = 0
    private nonisolated(unsafe) var stopRequested = false
    private nonisolated(unsafe) var finished = false
    private nonisolated(unsafe) var started = false
    private let caughtUp = Atomic<Bool>(false)
    private let caughtUpWaiters = Locked<[CheckedContinuation<Void, Never>]>([])

    /// - Parameters:
    ///   - name: the checkpoint's key (valid as a ``StreamName`` part).
    ///   - store: the event store.
    ///   - checkpoints: where the checkpoint and parked events go.
    ///   - options: batching, retries, checkpoint cadence.
    ///   - metrics: the consumer's gauges (a fresh object by default).
    ///   - logger: for retries, parking, store failures.
    ///   - handler: runs for each event.
    public init(
        name: String, store: any EventStore, checkpoints: any CheckpointStore,
        options: ConsumerOptions = ConsumerOptions(), metrics: ConsumerMetrics? = nil,
        logger: Logger = Logger(label: "clstr.eventsourcing.consumer"), handler: @escaping Handler
    ) {
        self.name = name
        self.store = store
        self.checkpoints = checkpoints
        self.options = options
        self.metrics = metrics ?? ConsumerMetrics(name: name)
        self.metrics.countEvents(with: store)
        self.logger = logger
        self.handler = handler
    }

    /// Starts the consumer's thread. Call once.
    public func start() {
        condition.lock()
        precondition(!started, "consumer \(name) started twice")
        started = true
        condition.unlock()
        let thread = Thread { [self] in run() }
        thread.name = "consumer-\(name)"
        thread.start()
    }

    /// Stops the consumer: the handler is not called again (one running finishes first), the checkpoint is saved,
    /// and the thread exits before this returns. Blocks: call it from a thread that may block (never from the
    /// handler: it would wait for itself), or use ``shutdown()``. Idempotent.
    public func stop() {
        condition.lock()
        stopRequested = true
        condition.broadcast()
        while started && !finished { condition.wait() }
        condition.unlock()
    }

    /// ``stop()`` from async code, without blocking a cooperative thread.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                self.stop()
                continuation.resume()
            }.start()
        }
    }

    /// Whether the consumer has caught up with the log at least once.
    public var isCaughtUp: Bool { caughtUp.load(ordering: .acquiring) }

    /// Returns when the consumer has caught up with the log (at once if it already has).
    public func waitUntilCaughtUp() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = caughtUpWaiters.withLock { waiters in
                if caughtUp.load(ordering: .acquiring) { return true }
                waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// The position of the last event handled or parked.
    public var position: UInt64 { metrics.position.load(ordering: .relaxed) }

    // MARK: The thread

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopRequested
    }

    private func run() {
        defer {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        let observation = store.observeAppends { [weak self] head in self?.noteHead(head) }
        defer { observation.cancel() }
        var position: UInt64 = 0
        var attempt = 0
        while !isStopping {
            switch wait({ self.checkpoints.loadCheckpoint(consumer: self.name, completion: $0) }) {
            case .success(let stored):
                position = stored ?? 0
                attempt = 0
            case .failure(let error):
                attempt += 1
                logger.warning("checkpoint load failed", metadata: ["consumer": "\(name)", "error": "\(error)"])
                sleep(backoff(attempt))
                continue
            }
            break
        }
        metrics.position.store(position, ordering: .relaxed)
        var savedPosition = position
        var sinceSave = 0
        attempt = 0
        while !isStopping {
            let observedGeneration = currentGeneration()
            let events: [RecordedEvent]
            switch wait({ self.store.readAll(from: position + 1, maxCount: self.options.batchSize, completion: $0) }) {
            case .success(let read):
                events = read
                attempt = 0
            case .failure(let error):
                attempt += 1
                logger.warning("log read failed", metadata: ["consumer": "\(name)", "error": "\(error)"])
                sleep(backoff(attempt))
                continue
            }
            for event in events {
                guard handle(event) else { break }
                position = event.position
                metrics.position.store(position, ordering: .relaxed)
                raiseHead(to: position)
                sinceSave += 1
                if sinceSave >= options.checkpointEvery {
                    if saveCheckpoint(position) { savedPosition = position }
                    sinceSave = 0
                }
            }
            if isStopping { break }
            if events.count < options.batchSize {
                // At the head of this read: save, signal, then sleep until an append (or stop) wakes us.
                if position != savedPosition, saveCheckpoint(position) {
                    savedPosition = position
                    sinceSave = 0
                }
                if case .success(let head) = wait({ self.store.readHeadPosition(completion: $0) }) {
                    raiseHead(to: head)
                    // Appended since the read: read again. (Only after a read that advanced, so a head past the
                    // last readable position — a gap — cannot spin.)
                    if head > position && !events.isEmpty { continue }
                }
                markCaughtUp()
                waitForWake(after: observedGeneration)
            }
        }
        if position != savedPosition { _ = saveCheckpoint(position) }
    }

    /// Runs the handler with retries; parks the event when they run out. Returns false when stopped first.
    private func handle(_ event: RecordedEvent) -> Bool {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try handler(event)
                metrics.handled.wrappingAdd(1, ordering: .relaxed)
                return true
            } catch {
                let permanent = (error as? EventStoreError)?.code == .codec
                if permanent || attempt >= options.maxAttempts {
                    park(event, attempts: attempt, error: error)
                    return true
                }
                metrics.retries.wrappingAdd(1, ordering: .relaxed)
                logger.debug(
                    "handler failed; retrying",
                    metadata: ["consumer": "\(name)", "position": "\(event.position)", "error": "\(error)"])
                sleep(backoff(attempt))
                if isStopping { return false }
            }
        }
    }

    private func park(_ event: RecordedEvent, attempts: Int, error: any Error) {
        let parked = ParkedEvent(
            consumer: name, position: event.position, stream: event.stream, version: event.version,
            eventType: event.type, attempts: attempts, lastError: String(describing: error))
        var attempt = 0
        while case .failure(let storeError) = wait({ self.checkpoints.park(parked, completion: $0) }) {
            attempt += 1
            logger.warning("park failed", metadata: ["consumer": "\(name)", "error": "\(storeError)"])
            if isStopping { break }
            sleep(backoff(attempt))
        }
        metrics.parked.wrappingAdd(1, ordering: .relaxed)
        logger.warning(
            "event parked",
            metadata: [
                "consumer": "\(name)", "position": "\(event.position)", "stream": "\(event.stream)",
                "type": "\(event.type)", "error": "\(error)",
            ])
    }

    private func saveCheckpoint(_ position: UInt64) -> Bool {
        if case .failure(let error) = wait({
            self.checkpoints.saveCheckpoint(consumer: self.name, position: position, completion: $0)
        }) {
            metrics.checkpointFailures.wrappingAdd(1, ordering: .relaxed)
            logger.warning("checkpoint save failed", metadata: ["consumer": "\(name)", "error": "\(error)"])
            return false
        }
        return true
    }

    private func markCaughtUp() {
        let waiters = caughtUpWaiters.withLock { waiters in
            caughtUp.store(true, ordering: .releasing)
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Waking

    private func noteHead(_ head: UInt64) {
        raiseHead(to: head)
        condition.lock()
        generation &+= 1
        condition.signal()
        condition.unlock()
    }

    private func raiseHead(to head: UInt64) {
        // Relaxed: a gauge; the max keeps it from moving back when observations arrive out of order.
        var current = metrics.head.load(ordering: .relaxed)
        while head > current {
            let (exchanged, observed) = metrics.head.compareExchange(
                expected: current, desired: head, ordering: .relaxed)
            if exchanged { return }
            current = observed
        }
    }

    private func currentGeneration() -> Int {
        condition.lock()
        defer { condition.unlock() }
        return generation
    }

    /// Sleeps until an append was observed after `observed` was read, or stop.
    private func waitForWake(after observed: Int) {
        condition.lock()
        while generation == observed && !stopRequested { condition.wait() }
        condition.unlock()
    }

    /// Sleeps for `delay` unless stopped first.
    private func sleep(_ delay: Duration) {
        let deadline = Date(timeIntervalSinceNow: Double(MonotonicClock.nanoseconds(delay)) / 1e9)
        condition.lock()
        while !stopRequested && Date() < deadline { _ = condition.wait(until: deadline) }
        condition.unlock()
    }

    /// The jittered delay after failed attempt `attempt` (1-based).
    private func backoff(_ attempt: Int) -> Duration {
        let base = Double(MonotonicClock.nanoseconds(options.initialBackoff))
        let cap = Double(MonotonicClock.nanoseconds(options.maxBackoff))
        let exponential = min(cap, base * pow(2, Double(min(attempt - 1, 40))))
        return .nanoseconds(Int64(exponential * Double.random(in: 0.5...1)))
    }

    /// Waits on this thread for a store completion.
    private func wait<T: Sendable>(
        _ operation: (@escaping @Sendable (Result<T, EventStoreError>) -> Void) -> Void
    ) -> Result<T, EventStoreError> {
        let box = CompletionBox<T>()
        operation { box.complete($0) }
        return box.wait()
    }
}

/// One store completion awaited by a blocking thread.
private final class CompletionBox<T: Sendable>: Sendable {
    private let condition = NSCondition()
    private let result = Locked<Result<T, EventStoreError>?>(nil)

    func complete(_ value: Result<T, EventStoreError>) {
        condition.lock()
        result.withLock { $0 = value }
        condition.signal()
        condition.unlock()
    }

    func wait() -> Result<T, EventStoreError> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = result.withLock({ $0 }) { return value }
            condition.wait()
        }
    }
}
