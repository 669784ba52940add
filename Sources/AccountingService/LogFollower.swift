import AccountingDomain
import ClstrRuntime
import EventSourcing
import Synchronization

/// Follows a store's global log from the start: reads in batches until the head, then again after the store
/// reported appends. `apply` runs for each batch, one batch at a time, in log order.
///
/// Reads are coalesced: the store's append callback only records the new head (it runs on the appender's thread,
/// for the memory store inside the request's own turn), and a ticker thread of the follower's own reads whatever
/// is new every `interval`. A read per append cost a `readAll` and its decoding per deposit on the serving thread
/// (6.5 % of the memory store's deposit CPU with two followers); one read per interval carries many events.
///
/// The base of the stats projection and the transfer process manager. Both rebuild their state from the whole log
/// when the process starts (the log is their checkpoint), which suits this example's sizes.
final class LogFollower: Sendable {
    private struct State {
        var position: UInt64 = 0
        var running = false
        var again = false
        var ticker: BackgroundTicker?
    }

    let store: any EventStore
    let batch: Int
    /// How often new appends are read.
    let interval: Duration
    private let apply: @Sendable ([RecordedEvent]) -> Void
    private let state = Mutex(State())
    /// The newest head the store reported: written by every append (on the appender's thread), so an atomic
    /// maximum in an object the observer holds strongly, not the state's lock behind a weak reference (the two
    /// followers' observers cost ~500 instructions per deposit that way).
    private let head = HeadMark()
    private let observation = Mutex<AppendObservation?>(nil)

    init(
        store: any EventStore, batch: Int = 4096, interval: Duration = .milliseconds(5),
        apply: @escaping @Sendable ([RecordedEvent]) -> Void
    ) {
        self.store = store
        self.batch = batch
        self.interval = interval
        self.apply = apply
    }

    /// Starts following.
    func start() {
        let mark = head
        let registration = store.observeAppends { head in mark.raise(to: head) }
        let ticker = BackgroundTicker(interval: interval) { [weak self] in
            guard let self else { return }
            let head = self.head.value
            if self.state.withLock({ !$0.running && head > $0.position }) { self.poke() }
        }
        state.withLock { $0.ticker = ticker }
        observation.withLock { $0 = registration }
        store.readHeadPosition { [weak self] result in
            if case .success(let head) = result { self?.head.raise(to: head) }
        }
        poke()
    }

    /// Stops following.
    func stop() {
        state.withLock { state in
            state.ticker?.stop()
            state.ticker = nil
        }
        observation.withLock {
            $0?.cancel()
            $0 = nil
        }
    }

    /// The last position applied and the newest head known.
    var progress: (position: UInt64, head: UInt64) {
        let head = self.head.value
        let position = state.withLock { $0.position }
        return (position, max(head, position))
    }

    /// Events between the last position applied and the newest head known: the store counts them (JetStream's
    /// positions are not dense, so `head − position` would overstate the lag there).
    var lag: UInt64 {
        let (position, head) = progress
        return store.eventCount(after: position, upTo: head)
    }

    /// Reads on (now, or after the read in progress).
    func poke() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        if start { readNext() }
    }

    private func readNext() {
        let from = state.withLock { $0.position + 1 }
        store.readAll(from: from, maxCount: batch) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let events):
                if !events.isEmpty {
                    self.apply(events)
                    let last = events[events.count - 1].position
                    self.state.withLock { $0.position = last }
                }
                let more = self.state.withLock { state -> Bool in
                    if events.count == self.batch || state.again {
                        state.again = false
                        return true
                    }
                    state.running = false
                    return false
                }
                if more { self.readNext() }
            case .failure:
                // Tried again on the next append or poke.
                self.state.withLock { $0.running = false }
            }
        }
    }
}

/// The highest head position reported by a store's append observer.
final class HeadMark: Sendable {
    private let mark = Atomic<UInt64>(0)

    /// The highest position seen.
    var value: UInt64 {
        // Relaxed: the mark only says "read up to here"; the events themselves are read under the store's lock.
        mark.load(ordering: .relaxed)
    }

    /// Raises the mark to `position` (appends may report out of order: observers run after the store's lock).
    func raise(to position: UInt64) {
        // Relaxed: as above, nothing else is published through the mark.
        mark.max(position, ordering: .relaxed)
    }
}

/// `GET /stats`: accounts and the sum of their balances, from the global log.
final class StatsProjection: Sendable {
    struct Totals: Sendable {
        var accounts = 0
        var totalBalance: Int64 = 0
        var events = 0
    }

    let follower: LogFollower

    /// - Parameters:
    ///   - store: the store whose log it follows.
    ///   - alsoApply: another consumer of the same batches, after the totals (the transfer process manager of a
    ///     process that holds both: one follower instead of two).
    init(store: any EventStore, alsoApply: (@Sendable ([RecordedEvent]) -> Void)? = nil) {
        let totals = TotalsCell()
        follower = LogFollower(store: store) { events in
            totals.apply(events)
            alsoApply?(events)
        }
        cell = totals
    }

    private let cell: TotalsCell

    var current: Totals { cell.totals.withLock { $0 } }
}

/// The projection's state, shared with the follower's callback.
final class TotalsCell: Sendable {
    let totals = Mutex(StatsProjection.Totals())

    func apply(_ records: [RecordedEvent]) {
        var delta = StatsProjection.Totals()
        // Through the buffer: `for record in records` and `records[index]` copied every record (its nine fields)
        // before looking at it; the buffer's subscript lends it in place.
        records.withUnsafeBufferPointer { records in
            for index in records.indices {
                guard
                    let event = AccountEvent.decodeCurrent(
                        type: records[index].type, schemaVersion: records[index].schemaVersion,
                        payload: records[index].payload) ?? (try? AccountEvent.codec.decode(records[index]))
                else { continue }
                delta.events += 1
                switch event {
                case .opened(let event):
                    delta.accounts += 1
                    delta.totalBalance &+= event.initial
                case .deposited(let event): delta.totalBalance &+= event.amount
                case .withdrawn(let event): delta.totalBalance &-= event.amount
                case .transferDebited(let event): delta.totalBalance &-= event.amount
                case .transferCredited(let event): delta.totalBalance &+= event.amount
                case .transferRefunded(let event): delta.totalBalance &+= event.amount
                }
            }
        }
        totals.withLock { totals in
            totals.accounts += delta.accounts
            totals.totalBalance &+= delta.totalBalance
            totals.events += delta.events
        }
    }
}
