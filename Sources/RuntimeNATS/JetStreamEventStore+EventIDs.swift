import EventSourcing
import Synchronization

extension JetStreamEventStore {
    /// The outcomes of one append's event-ID markers, collected as their acknowledgements arrive.
    final class Reservation: Sendable {
        struct State {
            var remaining: Int
            /// Sequences of markers the server reported as duplicates (an earlier marker of the same ID).
            var duplicates: [UInt64] = []
            /// A marker that was not stored or not answered.
            var failure: NATSError?
        }

        let state: Mutex<State>

        init(count: Int) { state = Mutex(State(remaining: count)) }

        /// Records one outcome; returns the final state once every marker has answered.
        func record(_ outcome: JetStreamContext.PublishOutcome) -> State? {
            state.withLock { state in
                switch outcome {
                case .stored(let sequence, let duplicate): if duplicate { state.duplicates.append(sequence) }
                case .rejected(let error), .unknown(let error): state.failure = state.failure ?? error
                }
                state.remaining -= 1
                return state.remaining == 0 ? state : nil
            }
        }
    }

    /// The marker of one event ID: the owning commit's first event ID (16 bytes) and the stream's subject.
    static func marker(owner: EventID, subject: String) -> [UInt8] {
        owner.bytes + Array(subject.utf8)
    }

    /// Publishes one marker per event ID (`Nats-Msg-Id` = the event ID, on the ID stream), then the commit once
    /// every marker is stored: an event ID already used by another append within the duplicate window fails the
    /// append with `duplicateEventID` before its commit is sent. Markers of this very append (a retry) pass.
    func reserveThenPublish(_ append: Append, then publishCommit: @escaping @Sendable () -> Void) {
        let reservation = Reservation(count: append.events.count)
        let marker = Self.marker(owner: append.events[0].id, subject: append.subject)
        for (index, event) in append.events.enumerated() {
            let sent = marker.withUnsafeBytes { payload -> Result<Void, NATSError> in
                do throws(NATSError) {
                    return .success(
                        try context.publishAsync(
                            subject: idSubject, payload: payload, messageID: event.id.hex, expectation: .none,
                            timeout: configuration.appendTimeout
                        ) { [self] outcome in
                            guard let final = reservation.record(outcome) else { return }
                            finishReservation(append, final, then: publishCommit)
                        })
                } catch {
                    return .failure(error)
                }
            }
            if case .failure(let error) = sent {
                // The markers already sent still answer; count the unsent ones as failed so the append completes
                // once, when the last sent marker answers (or now, when none was sent).
                var final: Reservation.State?
                for _ in index..<append.events.count {
                    final = reservation.record(.rejected(error)) ?? final
                }
                if let final { finishReservation(append, final, then: publishCommit) }
                return
            }
        }
    }

    private func finishReservation(
        _ append: Append, _ final: Reservation.State, then publishCommit: @escaping @Sendable () -> Void
    ) {
        if let failure = final.failure {
            // The commit was never sent: the append is not stored (markers left behind only serve its retries).
            return fail(
                append.completion,
                EventStoreError(
                    .backendUnavailable, "append to \(append.stream) not sent: \(failure)", stream: append.stream,
                    underlying: failure))
        }
        guard !final.duplicates.isEmpty else { return publishCommit() }
        worker.async { [self] in
            let mine = Self.marker(owner: append.events[0].id, subject: append.subject)
            for sequence in final.duplicates {
                let message: JetStreamContext.StoredMessage?
                do throws(NATSError) {
                    message = try context.directGet(stream: idStreamName, sequence: sequence)
                } catch {
                    return fail(append.completion, Self.readError(error, stream: append.stream).asNotApplied)
                }
                guard let message, message.payload == mine else {
                    return fail(
                        append.completion,
                        EventStoreError(
                            .duplicateEventID, "an event ID of the append is stored by another append",
                            stream: append.stream))
                }
            }
            publishCommit()
        }
    }
}

extension EventStoreError {
    /// A timeout of a step before the commit was sent: nothing was stored.
    var asNotApplied: EventStoreError {
        var error = self
        if error.code == .timeout { error.code = .backendUnavailable }
        return error
    }
}
