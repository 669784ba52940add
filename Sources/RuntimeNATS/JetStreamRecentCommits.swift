import Synchronization

/// The commits this process appended last, by stream sequence, kept from their acknowledgements so that a log
/// read (a projection following the store) finds them without a direct get per commit.
///
/// A cached commit is exactly what the server stored at that sequence, as long as the connection has not
/// reconnected since: a restarted server may have lost its data and give the same sequences to other messages.
/// So every entry carries the connection's reconnect count at publish time, and a lookup under another count
/// empties the cache. (Purging or deleting the stream under a connected store is not covered: the store never
/// does either.) Bounded: the oldest commits leave first.
final class JetStreamRecentCommits: Sendable {
    private struct State {
        var entries: [UInt64: JetStreamContext.StoredMessage] = [:]
        /// Sequences in insertion order, a ring of `capacity`.
        var order: [UInt64] = []
        var next = 0
        var epoch: UInt64 = 0
        /// Lookups answered from the cache (for tests: that a read did not go to the server).
        var hits = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 1_024) {
        self.capacity = capacity
    }

    /// Remembers `message` (this process's commit, acknowledged at `message.sequence`) published under `epoch`.
    func insert(_ message: JetStreamContext.StoredMessage, epoch: UInt64) {
        state.withLock { state in
            if state.epoch != epoch { Self.reset(&state, epoch: epoch) }
            if state.order.count < capacity {
                state.order.append(message.sequence)
            } else {
                state.entries[state.order[state.next]] = nil
                state.order[state.next] = message.sequence
                state.next = (state.next + 1) % capacity
            }
            state.entries[message.sequence] = message
        }
    }

    /// The commit stored at `sequence`, when it is one of this process's recent ones and the connection's reconnect
    /// count is still `epoch`.
    func message(at sequence: UInt64, epoch: UInt64) -> JetStreamContext.StoredMessage? {
        state.withLock { state in
            if state.epoch != epoch {
                Self.reset(&state, epoch: epoch)
                return nil
            }
            let found = state.entries[sequence]
            if found != nil { state.hits += 1 }
            return found
        }
    }

    /// Lookups answered from the cache so far.
    var hits: Int { state.withLock { $0.hits } }

    private static func reset(_ state: inout State, epoch: UInt64) {
        state.entries.removeAll()
        state.order.removeAll()
        state.next = 0
        state.epoch = epoch
    }
}
