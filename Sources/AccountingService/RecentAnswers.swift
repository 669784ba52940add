/// The answers of an account's most recent keyed commands: at most `capacity` idempotency keys, the oldest
/// forgotten first (a ring of keys beside the dictionary; no allocation per insert once the ring is full).
///
/// The window is a cache, not the truth: every keyed command's events carry the key in their metadata and have
/// IDs derived from it (``AccountEntity/eventID(stream:key:index:)``), so a retry whose key fell out of the window
/// is recognised by the store's idempotent append (it stores nothing and answers with the earlier append's
/// result, or `duplicateEventID` when the events were part of a larger append). The entity then reloads the
/// account from version 1, looking for the keys of the commands it holds, and answers them from the stream. On a
/// store that recognises a stored ID only as an append's first (JetStream without markers), keyed commands never
/// share an append with earlier commands (``AccountNode/keyedCommandsShareAppends``), so their events come first.
struct RecentAnswers: Sendable {
    /// The most keys remembered (≥ 1).
    let capacity: Int
    private var answers: [String: AccountReply] = [:]
    /// The keys in insertion order, as a ring once full: `ring[next]` is the oldest.
    private var ring: [String] = []
    private var next = 0

    /// An empty window of `capacity` keys (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The number of keys remembered.
    var count: Int { answers.count }

    /// The first answer of the command that carried `key`, if it is in the window.
    subscript(key: String) -> AccountReply? { answers[key] }

    /// Remembers `answer` for `key` as the newest; forgets the oldest key when the window is full. A key already
    /// in the window keeps its first answer and its place.
    mutating func insert(_ key: String, _ answer: AccountReply) {
        guard answers[key] == nil else { return }
        answers[key] = answer
        if ring.count < capacity {
            ring.append(key)
        } else {
            answers[ring[next]] = nil
            ring[next] = key
            next = (next + 1) % capacity
        }
    }

    /// The remembered keys and answers, oldest first (the order a snapshot keeps, so that a restored window
    /// forgets in the same order).
    var oldestFirst: [(key: String, answer: AccountReply)] {
        let order = ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
        return order.map { ($0, answers[$0]!) }
    }
}
