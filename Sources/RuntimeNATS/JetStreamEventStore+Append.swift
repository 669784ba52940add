import EventSourcing
import Synchronization

extension JetStreamEventStore {
    /// One append in progress (its state moves between the caller, the acknowledgement thread and the worker).
    struct Append: Sendable {
        var stream: StreamName
        var subject: String
        var expected: ExpectedVersion
        var events: [EventData]
        var completion: AppendCompletion
        var start: ContinuousClock.Instant
        /// Publishes refused for a moved tip so far (bounded, for `.any`/`.exists` under contention).
        var attempts = 0
        /// The event-ID markers are stored (or not wanted).
        var reserved = false
        /// The Nats-Msg-Id: the first event's ID.
        var messageID: String { events[0].id.hex }
    }

    /// Publishes beyond this many wrong-last-sequence refusals fail with `backendUnavailable` (a livelock guard
    /// for `.any` appends against a stream that keeps moving).
    static var maxAttempts: Int { 64 }

    public func append(
        to stream: StreamName, expected: ExpectedVersion, events: [EventData], completion: @escaping AppendCompletion
    ) {
        // Relaxed: a best-effort gate (see `close()`); the flag guards no other data.
        guard !isClosed.load(ordering: .relaxed) else { return fail(completion, Self.closedError) }
        guard stream.isValid else {
            return fail(completion, EventStoreError(.invalidArgument, "invalid stream name \(stream)", stream: stream))
        }
        guard !events.isEmpty, events.count <= CommitRecord.maxEvents else {
            return fail(
                completion,
                EventStoreError(
                    .invalidArgument, "an append holds 1…\(CommitRecord.maxEvents) events, not \(events.count)",
                    stream: stream))
        }
        if events.count > 1, Set(events.map(\.id)).count != events.count {
            return fail(
                completion, EventStoreError(.duplicateEventID, "the append repeats an event ID", stream: stream))
        }
        let append = Append(
            stream: stream, subject: subject(of: stream), expected: expected, events: events, completion: completion,
            start: .now)
        if let tip = tips.withLock({ $0[stream] }), expected.isSatisfied(by: tip.version) {
            publish(append, tip: tip)
        } else if expected == .noStream || expected == .exact(0) {
            // A new stream needs no read: the server checks `ExpectNoMessage` (a refusal takes the slow path).
            publish(append, tip: Tip(version: 0, sequence: 0))
        } else {
            worker.async { self.refreshAndPublish(append) }
        }
    }

    func fail(_ completion: AppendCompletion, _ error: EventStoreError) {
        if error.code == .conflict { metrics?.conflicted() } else { metrics?.appendFailed() }
        completion(.failure(error))
    }

    /// Publishes the commit on top of `tip` (whose version satisfies the expectation).
    private func publish(_ append: Append, tip: Tip) {
        if configuration.detectsRepeatedEventIDs, !append.reserved, append.events.count > 1 {
            var reserved = append
            reserved.reserved = true
            return reserveThenPublish(append) { [self, reserved] in publish(reserved, tip: tip) }
        }
        let record = CommitRecord.encode(firstVersion: tip.version + 1, events: append.events)
        // Relaxed: set once, before the observer that reads the log exists; a commit missed here is read from the
        // server.
        let epoch = keepsRecentCommits.load(ordering: .relaxed) ? context.connection.reconnects : nil
        send(
            append, record: record,
            expectation: tip.sequence == 0 ? .noMessage : .lastSequence(tip.sequence)
        ) { [self] outcome in
            switch outcome {
            case .stored(let sequence, duplicate: false):
                // Acknowledged over the connection it was published on (no reconnect between): exactly what the
                // server stored at `sequence`.
                if let epoch, context.connection.reconnects == epoch {
                    recentCommits.insert(
                        JetStreamContext.StoredMessage(subject: append.subject, sequence: sequence, payload: record),
                        epoch: epoch)
                }
                let count = append.events.count
                let result = AppendResult(
                    firstVersion: tip.version + 1, lastVersion: tip.version + UInt64(count),
                    firstPosition: Self.position(sequence: sequence, index: 0, count: count),
                    lastPosition: Self.position(sequence: sequence, index: count - 1, count: count))
                remember(append.stream, Tip(version: result.lastVersion, sequence: sequence))
                metrics?.appended(
                    events: count, nanoseconds: UInt64((ContinuousClock.now - append.start).nanosecondsClamped))
                append.completion(.success(result))
                notifyObservers(head: result.lastPosition)
            case .stored(let sequence, duplicate: true):
                worker.async { self.replay(append, sequence: sequence) }
            case .rejected(let error) where error.jetStreamCode == .wrongLastSequence:
                var retry = append
                retry.attempts += 1
                guard retry.attempts < Self.maxAttempts else {
                    return fail(
                        append.completion,
                        EventStoreError(
                            .backendUnavailable, "the stream kept moving: \(retry.attempts) attempts",
                            stream: append.stream))
                }
                worker.async { [retry] in self.refreshAndPublish(retry) }
            case .rejected(let error):
                fail(append.completion, Self.refusal(error, stream: append.stream))
            case .unknown(let error):
                forget(append.stream)
                fail(
                    append.completion,
                    EventStoreError(
                        .outcomeUnknown,
                        "no acknowledgement for the append to \(append.stream); it may or may not be stored: retry with the same event IDs within the duplicate window",
                        stream: append.stream, underlying: error))
            }
        }
    }

    /// Sends `record`; a publish refused before sending completes the append with `backendUnavailable`.
    private func send(
        _ append: Append, record: [UInt8], expectation: JetStreamContext.SubjectExpectation,
        _ handler: @escaping @Sendable (JetStreamContext.PublishOutcome) -> Void
    ) {
        let sent = record.withUnsafeBytes { payload -> Result<Void, NATSError> in
            do throws(NATSError) {
                return .success(
                    try context.publishAsync(
                        subject: append.subject, payload: payload, messageID: append.messageID,
                        expectation: expectation, timeout: configuration.appendTimeout, completion: handler))
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = sent {
            fail(
                append.completion,
                EventStoreError(
                    .backendUnavailable, "append to \(append.stream) not sent: \(error)", stream: append.stream,
                    underlying: error))
        }
    }

    /// The error of a publish the server refused (nothing stored).
    static func refusal(_ error: NATSError, stream: StreamName) -> EventStoreError {
        if error.jetStreamCode == .messageExceedsMaximum {
            return EventStoreError(
                .invalidArgument, "the append is larger than the stream's maximum message size", stream: stream,
                underlying: error)
        }
        return EventStoreError(
            .backendUnavailable, "JetStream refused the append: \(error)", stream: stream, underlying: error)
    }

    /// Worker: reads the subject's last commit, then publishes on top of it, answers a retry of that commit, or
    /// (when the expectation does not hold) asks the server whether the append is a retry of an older commit
    /// before reporting the conflict.
    private func refreshAndPublish(_ append: Append) {
        let tip: Tip
        do throws(EventStoreError) {
            guard let last = try lastCommit(of: append.stream, subject: append.subject) else {
                remember(append.stream, Tip(version: 0, sequence: 0))
                return append.expected.isSatisfied(by: 0)
                    ? publish(append, tip: Tip(version: 0, sequence: 0)) : probe(append, actual: 0)
            }
            tip = Tip(version: last.header.lastVersion, sequence: last.sequence)
            remember(append.stream, tip)
            if last.events.first?.id == append.events[0].id {
                return answerRetry(append, commit: last)
            }
        } catch {
            // Nothing of this append was stored (no publish, or one the server refused): a read that timed out
            // leaves the append not applied, not unknown.
            var failure = error
            if failure.code == .timeout { failure.code = .backendUnavailable }
            return fail(append.completion, failure)
        }
        if append.expected.isSatisfied(by: tip.version) {
            publish(append, tip: tip)
        } else {
            probe(append, actual: tip.version)
        }
    }

    /// The expectation fails at `actual`. Idempotency is checked first: the commit is sent with an expectation
    /// that cannot hold (last subject sequence `UInt64.max`), so the server either reports a duplicate within its
    /// window (a retry: answered with the original result) or refuses it (the conflict). Nothing is stored.
    private func probe(_ append: Append, actual: UInt64) {
        let record = CommitRecord.encode(firstVersion: actual + 1, events: append.events)
        send(append, record: record, expectation: .lastSequence(.max)) { [self] outcome in
            switch outcome {
            case .stored(let sequence, _):
                worker.async { self.replay(append, sequence: sequence) }
            case .rejected(let error) where error.jetStreamCode == .wrongLastSequence:
                fail(append.completion, .conflict(stream: append.stream, expected: append.expected, actual: actual))
            case .rejected(let error):
                fail(append.completion, Self.refusal(error, stream: append.stream))
            case .unknown(let error):
                // Nothing can have been stored (the expectation cannot hold), so this is not `outcomeUnknown`.
                fail(
                    append.completion,
                    EventStoreError(
                        .backendUnavailable, "no answer while checking the append to \(append.stream)",
                        stream: append.stream, underlying: error))
            }
        }
    }

    /// Worker: the server reported the append's message ID as a duplicate of the message at `sequence`.
    private func replay(_ append: Append, sequence: UInt64) {
        do throws(EventStoreError) {
            guard let message = try readMessage(sequence: sequence, stream: append.stream) else {
                return fail(
                    append.completion,
                    EventStoreError(
                        .duplicateEventID, "event ID \(append.messageID) was stored, but its commit is gone",
                        stream: append.stream))
            }
            // Another stream's commit, or another append's event-ID marker.
            guard message.subject == append.subject else {
                return fail(
                    append.completion,
                    EventStoreError(
                        .duplicateEventID, "event ID \(append.messageID) is stored by another append",
                        stream: append.stream))
            }
            answerRetry(append, commit: try decode(message, stream: append.stream))
        } catch {
            fail(append.completion, error)
        }
    }

    /// `commit` starts with the append's first event ID: the original result when it holds the same IDs in the
    /// same order, else `duplicateEventID`.
    private func answerRetry(_ append: Append, commit: DecodedCommit) {
        guard commit.events.map(\.id) == append.events.map(\.id) else {
            return fail(
                append.completion,
                EventStoreError(
                    .duplicateEventID,
                    "event ID \(append.messageID) is stored at version \(commit.header.firstVersion) of \(append.stream) with other events",
                    stream: append.stream))
        }
        let count = commit.header.count
        metrics?.replayed()
        append.completion(
            .success(
                AppendResult(
                    firstVersion: commit.header.firstVersion, lastVersion: commit.header.lastVersion,
                    firstPosition: Self.position(sequence: commit.sequence, index: 0, count: count),
                    lastPosition: Self.position(sequence: commit.sequence, index: count - 1, count: count))))
    }
}
