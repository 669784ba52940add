import CNATS
import Synchronization

extension JetStreamContext {
    /// What a publish expects of the last message on its subject (checked by the server before storing).
    public enum SubjectExpectation: Sendable, Equatable {
        /// No check.
        case none
        /// The subject has no message (`jsPubOptions.ExpectNoMessage`).
        case noMessage
        /// The subject's last message has this stream sequence (`Nats-Expected-Last-Subject-Sequence`,
        /// `jsPubOptions.ExpectLastSubjectSeq`; must be ≥ 1, since libnats reads 0 as "not set").
        case lastSequence(UInt64)
    }

    /// The outcome of an asynchronous publish, passed to its completion.
    public enum PublishOutcome: Sendable {
        /// The stream stored the message at `sequence`; `duplicate` when the server had already stored a message
        /// with the same `Nats-Msg-Id` within its duplicate window (then `sequence` is the original's).
        case stored(sequence: UInt64, duplicate: Bool)
        /// The server refused the message (``NATSError/jetStreamCode`` says why, for example
        /// ``JetStreamErrorCode/wrongLastSequence``): it is not stored.
        case rejected(NATSError)
        /// No acknowledgement arrived within the publish's timeout (or the context was closed first): the message
        /// may or may not be stored.
        case unknown(NATSError)
    }

    /// Publishes `payload` to `subject` without waiting: `completion` runs once, on libnats' acknowledgement
    /// thread, with the server's answer or a timeout. It must not block (it holds up every other publish's
    /// acknowledgement).
    ///
    /// A publish is refused before anything is sent (it throws, and `completion` never runs) when the connection
    /// is not connected at the time of the call, so a caller can tell "not sent" from "sent, outcome unknown".
    /// - Parameters:
    ///   - subject: the subject (captured by a stream).
    ///   - payload: the message body (copied).
    ///   - messageID: `Nats-Msg-Id`, for the server's duplicate detection.
    ///   - expectation: the check of the subject's last message.
    ///   - timeout: how long to wait for the acknowledgement (libnats' `jsPubOptions.MaxWait` timer).
    ///   - completion: gets the outcome.
    /// - Throws: ``NATSError`` when the message was not sent (`connectionDisconnected`, `connectionClosed`,
    ///   `timeout` at the pending limit, …).
    public func publishAsync(
        subject: String, payload: UnsafeRawBufferPointer, messageID: String?, expectation: SubjectExpectation,
        timeout: Duration, completion: @escaping @Sendable (PublishOutcome) -> Void
    ) throws(NATSError) {
        guard connection.isConnected else {
            throw NATSError(
                status: .connectionDisconnected, operation: "js_PublishMsgAsync", message: "not connected",
                jetStreamCode: nil)
        }
        var message: OpaquePointer?
        try subject.withCString { LibNATS.createMessage(&message, subject: $0, bytes: payload) }.check(
            "natsMsg_Create")
        guard let created = message else { throw NATSError(status: .noMemory, operation: "natsMsg_Create") }
        // Registered before the publish: the acknowledgement can arrive before js_PublishMsgAsync returns.
        let key = UInt(bitPattern: created)
        acks.register(key, completion)
        var options = jsPubOptions()
        jsPubOptions_Init(&options)
        options.MaxWait = max(1, timeout.natsMilliseconds)
        switch expectation {
        case .none: break
        case .noMessage: options.ExpectNoMessage = true
        case .lastSequence(let sequence): options.ExpectLastSubjectSeq = sequence
        }
        let status: NATSStatus
        if let messageID {
            status = messageID.withCString { id in
                options.MsgId = id
                return LibNATS.publishMessageAsync(handle, message: &message, options: &options)
            }
        } else {
            status = LibNATS.publishMessageAsync(handle, message: &message, options: &options)
        }
        guard status != .ok else { return }
        // libnats kept nothing when the publish fails (the pointer is still ours to destroy). The registration is
        // removed here unless the ack handler already took it (then the completion ran, and this call succeeded
        // as far as the caller can tell).
        let error = NATSError(status: status, operation: "js_PublishMsgAsync")
        guard acks.take(key) != nil else { return }
        natsMsg_Destroy(message)
        throw error
    }

    /// Fails every publish still waiting for its acknowledgement with ``PublishOutcome/unknown(_:)`` (at close).
    public func abandonPendingPublishes() {
        for completion in acks.takeAll() {
            completion(
                .unknown(
                    NATSError(
                        status: .connectionClosed, operation: "js_PublishMsgAsync",
                        message: "closed before the acknowledgement", jetStreamCode: nil)))
        }
    }

    /// How many asynchronous publishes wait for their acknowledgement.
    public var pendingPublishCount: Int { acks.count }
}

/// The completions of in-flight asynchronous publishes, keyed by their `natsMsg*` (which libnats hands back to the
/// ack handler); each completion is taken exactly once.
final class PublishAcks: Sendable {
    typealias Completion = @Sendable (JetStreamContext.PublishOutcome) -> Void
    private let pending = Mutex<[UInt: Completion]>([:])

    func register(_ key: UInt, _ completion: @escaping Completion) {
        pending.withLock { $0[key] = completion }
    }

    func take(_ key: UInt) -> Completion? {
        pending.withLock { $0.removeValue(forKey: key) }
    }

    func takeAll() -> [Completion] {
        pending.withLock { pending in
            defer { pending.removeAll() }
            return Array(pending.values)
        }
    }

    var count: Int { pending.withLock { $0.count } }
}

/// libnats' asynchronous publish acknowledgement handler (`jsPubAckHandler`): a top-level function that captures
/// nothing; runs the publish's completion and destroys the message (libnats leaves that to the handler).
func jetStreamPublishAckCallback(
    _ context: OpaquePointer?, _ message: OpaquePointer?, _ ack: UnsafeMutablePointer<jsPubAck>?,
    _ failure: UnsafeMutablePointer<jsPubAckErr>?, _ closure: UnsafeMutableRawPointer?
) {
    defer { natsMsg_Destroy(message) }
    guard let closure, let message else { return }
    let acks = Unmanaged<PublishAcks>.fromOpaque(closure).takeUnretainedValue()
    guard let completion = acks.take(UInt(bitPattern: message)) else { return }
    if let ack {
        completion(.stored(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate))
        return
    }
    let status = NATSStatus(failure?.pointee.Err ?? NATS_ERR)
    let code = failure.map { JetStreamErrorCode(rawValue: $0.pointee.ErrCode.rawValue) }
    let text = failure?.pointee.ErrText.map { String(cString: $0) } ?? status.description
    let error = NATSError(
        status: status, operation: "js_PublishMsgAsync", message: text,
        jetStreamCode: code?.rawValue == 0 ? nil : code)
    // A server answer (an error code, or no responders: no stream captured the subject) means not stored;
    // a timeout or a lost connection leaves the outcome open.
    if error.jetStreamCode != nil || status == .noResponders {
        completion(.rejected(error))
    } else {
        completion(.unknown(error))
    }
}
