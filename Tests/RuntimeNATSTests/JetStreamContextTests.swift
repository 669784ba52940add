import Synchronization
import Testing
import TestKit

@testable import RuntimeNATS

/// Publishes and awaits the acknowledgement.
func publish(
    _ context: JetStreamContext, _ subject: String, _ text: String, id: String? = nil,
    expect: JetStreamContext.SubjectExpectation = .none, timeout: Duration = .seconds(2)
) async throws -> JetStreamContext.PublishOutcome {
    let bytes = Array(text.utf8)
    return try await withCheckedThrowingContinuation { continuation in
        let sent = bytes.withUnsafeBytes { payload -> Result<Void, NATSError> in
            do throws(NATSError) {
                return .success(
                    try context.publishAsync(
                        subject: subject, payload: payload, messageID: id, expectation: expect, timeout: timeout
                    ) { outcome in continuation.resume(returning: outcome) })
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = sent { continuation.resume(throwing: error) }
    }
}

extension JetStreamContext.PublishOutcome {
    var storedSequence: UInt64? {
        if case .stored(let sequence, _) = self { return sequence }
        return nil
    }
    var isDuplicate: Bool {
        if case .stored(_, let duplicate) = self { return duplicate }
        return false
    }
    var rejectionCode: JetStreamErrorCode? {
        if case .rejected(let error) = self { return error.jetStreamCode }
        return nil
    }
}

func makeJetStream(
    _ server: NATSServer, stream: String = "PROBE", subjects: [String] = ["probe.>"]
) throws
    -> JetStreamContext
{
    let connection = try NATSConnection(options: .init(urls: [server.url]))
    let context = try JetStreamContext(connection: connection, apiTimeout: .seconds(2))
    try context.createOrUpdateStream(.init(name: stream, subjects: subjects))
    return context
}

@Suite("JetStreamContext against nats-server -js", .serialized, .timeLimit(.minutes(1)))
struct JetStreamContextTests {
    @Test("expected-last-subject-sequence and no-message checks store or reject; Nats-Msg-Id dedupes first")
    func expectations() async throws {
        let server = try NATSServer(jetStream: true)
        let js = try makeJetStream(server)
        defer { js.connection.close() }

        let first = try await publish(js, "probe.a", "1", id: "c1", expect: .noMessage)
        #expect(first.storedSequence == 1)
        #expect(try await publish(js, "probe.a", "x", id: "c2", expect: .noMessage).rejectionCode == .wrongLastSequence)
        #expect(try await publish(js, "probe.b", "b", id: "c3", expect: .noMessage).storedSequence == 2)
        #expect(try await publish(js, "probe.a", "2", id: "c4", expect: .lastSequence(1)).storedSequence == 3)
        #expect(
            try await publish(js, "probe.a", "x", id: "c5", expect: .lastSequence(1)).rejectionCode
                == .wrongLastSequence)
        // A retry of c1 with its original (now stale) expectation: the duplicate check comes first.
        let retry = try await publish(js, "probe.a", "1", id: "c1", expect: .noMessage)
        #expect(retry.storedSequence == 1 && retry.isDuplicate)
        let retry4 = try await publish(js, "probe.a", "2", id: "c4", expect: .lastSequence(1))
        #expect(retry4.storedSequence == 3 && retry4.isDuplicate)
        #expect(js.pendingPublishCount == 0)

        try await withBlockingAllowed {
            #expect(try js.lastSequence(stream: "PROBE") == 3)
            let last = try #require(try js.directGetLast(stream: "PROBE", subject: "probe.a"))
            #expect(last.sequence == 3 && last.payload == Array("2".utf8) && last.subject == "probe.a")
            #expect(try js.directGetLast(stream: "PROBE", subject: "probe.none") == nil)
            #expect(try js.directGet(stream: "PROBE", sequence: 2, nextBySubject: "probe.a")?.sequence == 3)
            #expect(try js.directGet(stream: "PROBE", sequence: 2)?.subject == "probe.b")
            #expect(try js.directGet(stream: "PROBE", sequence: 4, nextBySubject: "probe.>") == nil)
            var seen: [UInt64] = []
            try js.readOrdered(stream: "PROBE", subject: "probe.a", startSequence: 1, timeout: .seconds(2)) {
                seen.append($0.sequence)
                return true
            }
            #expect(seen == [1, 3])
        }
    }

    @Test("key-value: create once, update is a compare-and-set on the revision")
    func keyValue() async throws {
        let server = try NATSServer(jetStream: true)
        let js = try makeJetStream(server)
        defer { js.connection.close() }
        try await withBlockingAllowed {
            let kv = try JetStreamKeyValue(context: js, bucket: "probe_kv")
            #expect(try kv.get("k") == nil)
            let r1 = try #require(try kv.create("k", value: [1]))
            #expect(try kv.create("k", value: [2]) == nil)
            let r2 = try #require(try kv.update("k", value: [3], last: r1))
            #expect(try kv.update("k", value: [4], last: r1) == nil)
            let entry = try #require(try kv.get("k"))
            #expect(entry.value == [3] && entry.revision == r2)
            // Binding again finds the same bucket.
            #expect(try JetStreamKeyValue(context: js, bucket: "probe_kv").get("k")?.value == [3])
        }
    }

    @Test("an ordered push subscription sees stored messages with their stream sequence")
    func orderedSubscription() async throws {
        let server = try NATSServer(jetStream: true)
        let js = try makeJetStream(server)
        defer { js.connection.close() }
        #expect(try await publish(js, "probe.a", "1").storedSequence == 1)
        let watcher = try JetStreamSequenceWatcher(context: js, stream: "PROBE", subject: "probe.>", startSequence: 1)
        defer { watcher.cancel() }
        #expect(try await publish(js, "probe.b", "2").storedSequence == 2)
        await watcher.wait(until: 2)
        #expect(watcher.latest == 2)
    }

    @Test("a publish while the server is down is refused unsent or ends unknown within its timeout")
    func outage() async throws {
        let server = try NATSServer(jetStream: true)
        let js = try makeJetStream(server)
        defer { js.connection.close() }
        #expect(try await publish(js, "probe.a", "1").storedSequence == 1)
        server.stop()
        let start = ContinuousClock.now
        do {
            let outcome = try await publish(js, "probe.a", "2", timeout: .milliseconds(300))
            guard case .unknown = outcome else {
                Issue.record("expected unknown, got \(outcome)")
                return
            }
        } catch let error as NATSError {
            #expect(error.status == .connectionDisconnected)
        }
        #expect(ContinuousClock.now - start < .seconds(2))
    }
}
