import CNATS
import Synchronization

/// Follows the last stored sequence of a stream's subjects through an ordered push consumer (headers only), and
/// wakes whoever waits for a sequence: the stream's "something new was stored" signal, with no polling.
///
/// The consumer delivers only messages the stream has stored, so a woken reader finds them.
public final class JetStreamSequenceWatcher: Sendable {
    private struct State {
        var waiters: [(target: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        var cancelled = false
    }

    private let latestSequence = Atomic<UInt64>(0)
    private let state = Mutex(State())
    private let onAdvance: (@Sendable (UInt64) -> Void)?
    private let subscription = Mutex<NATSSubscription?>(nil)

    /// Starts following `subject` of `stream`.
    /// - Parameters:
    ///   - context: the JetStream context.
    ///   - stream: the stream.
    ///   - subject: the filter subject (wildcards allowed).
    ///   - startSequence: the first sequence to see (0: only messages stored from now on).
    ///   - onAdvance: called on libnats' delivery thread with each new sequence; must not block.
    /// - Throws: ``NATSError`` when the consumer cannot be created.
    public init(
        context: JetStreamContext, stream: String, subject: String, startSequence: UInt64 = 0,
        onAdvance: (@Sendable (UInt64) -> Void)? = nil
    ) throws(NATSError) {
        self.onAdvance = onAdvance
        let created = try NATSSubscription(
            jetStream: context, stream: stream, subject: subject, startSequence: startSequence, headersOnly: true,
            callback: jetStreamWatcherCallback, context: self)
        subscription.withLock { $0 = created }
    }

    /// The highest stream sequence seen so far (0: none).
    public var latest: UInt64 {
        // Acquiring: pairs with the releasing store in `advance`, for a reader that then looks at the stream.
        latestSequence.load(ordering: .acquiring)
    }

    /// Records a stored sequence (from the consumer, or from an own publish's acknowledgement) and wakes the
    /// waiters it satisfies.
    public func advance(to sequence: UInt64) {
        // Releasing: a waiter that sees the new sequence (acquiring load) also sees what happened before it.
        let previous = latestSequence.max(sequence, ordering: .acquiringAndReleasing).oldValue
        guard sequence > previous else { return }
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.target <= sequence else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
        onAdvance?(sequence)
    }

    /// Waits until the stream has stored a message at `sequence` or later, or the watcher is cancelled.
    public func wait(until sequence: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.cancelled || latest >= sequence { return true }
                state.waiters.append((sequence, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Stops following and releases every waiter; idempotent.
    public func cancel() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.cancelled = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for continuation in waiters { continuation.resume() }
        subscription.withLock { $0 }?.unsubscribe()
    }
}

/// The watcher's message callback: a top-level function that captures nothing; reads the stream sequence from the
/// message's metadata and destroys the message.
func jetStreamWatcherCallback(
    _ connection: OpaquePointer?, _ subscription: OpaquePointer?, _ message: OpaquePointer?,
    _ closure: UnsafeMutableRawPointer?
) {
    defer { natsMsg_Destroy(message) }
    guard let closure, let message else { return }
    var metadata: UnsafeMutablePointer<jsMsgMetaData>?
    guard LibNATS.metadata(&metadata, message) == .ok, let metadata else { return }
    let sequence = metadata.pointee.Sequence.Stream
    jsMsgMetaData_Destroy(metadata)
    Unmanaged<JetStreamSequenceWatcher>.fromOpaque(closure).takeUnretainedValue().advance(to: sequence)
}
