import ClstrRuntime
import Testing

@testable import RuntimeNATS

@Suite("NATS envelope and reply frame codec")
struct NATSEnvelopeTests {
    @Test("a request round-trips with every field")
    func requestRoundTrip() throws {
        let request = ClusterRequest(
            shard: 1_234, key: "alice-é", messageType: "counter.Increment", payload: .value(-77),
            deadline: 0, headers: ["trace": "abc", "tenant": "t1"], createdAtMilliseconds: 1_700_000_000_123)
        var writer = WireWriter()
        try NATSEnvelope.encodeRequest(request, remainingMicroseconds: 2_500_000, into: &writer)
        #expect(writer.bytes.first == NATSEnvelope.version)
        let incoming = try decodeRequest(writer.bytes).get()
        #expect(incoming.remainingMicroseconds == 2_500_000)
        #expect(incoming.request.shard == 1_234)
        #expect(incoming.request.key == "alice-é")
        #expect(incoming.request.messageType == "counter.Increment")
        #expect(incoming.request.headers == ["trace": "abc", "tenant": "t1"])
        #expect(incoming.request.createdAtMilliseconds == 1_700_000_000_123)
        guard case .bytes(let payload) = incoming.request.payload else { Issue.record("payload not bytes"); return }
        #expect(try WireBytes(payload).decode(as: Int.self) == -77)
    }

    @Test("batch frames (version 2): request and reply entries round-trip; other versions and kinds are rejected")
    func batchFrames() throws {
        let inbox = Array("_INBOX.abc.".utf8CString.dropLast())
        var batch: [UInt8] = []
        inbox.withUnsafeBufferPointer { NATSEnvelope.startRequestBatch(inbox: $0, into: &batch) }
        var frames: [[UInt8]] = []
        for value in 0..<3 {
            var writer = WireWriter()
            try NATSEnvelope.encodeRequest(
                ClusterRequest(shard: value, key: "k\(value)", messageType: "inc", payload: .value(value), deadline: 0),
                remainingMicroseconds: 1_000, into: &writer)
            frames.append(writer.bytes)
            _ = writer.bytes.withUnsafeBytes {
                NATSEnvelope.appendEntry(token: UInt64(value) << 30, frame: $0, into: &batch)
            }
        }
        #expect(batch.first == NATSEnvelope.batchVersion)
        try batch.withUnsafeBytes { bytes in
            #expect(NATSEnvelope.isBatch(bytes))
            let header = try NATSEnvelope.decodeRequestBatchHeader(bytes)
            #expect(Array(header.inbox) == inbox.map { UInt8(bitPattern: $0) })
            var seen: [(UInt64, [UInt8])] = []
            try NATSEnvelope.forEachEntry(bytes, from: header.entries) { seen.append(($0, Array($1))) }
            #expect(seen.map(\.0) == [0, 1 << 30, 2 << 30])
            #expect(seen.map(\.1) == frames)
            #expect(throws: RequestError.self) { try NATSEnvelope.replyBatchEntries(bytes) }
        }
        var replies: [UInt8] = []
        NATSEnvelope.startReplyBatch(into: &replies)
        var writer = WireWriter()
        NATSEnvelope.encodeReply(.success(42), into: &writer)
        _ = writer.bytes.withUnsafeBytes { NATSEnvelope.appendEntry(token: 9, frame: $0, into: &replies) }
        try replies.withUnsafeBytes { bytes in
            var outcomes: [Int?] = []
            try NATSEnvelope.forEachEntry(bytes, from: try NATSEnvelope.replyBatchEntries(bytes)) { token, frame in
                #expect(token == 9)
                if case .success(let value) = NATSEnvelope.decodeReply(frame).decode(as: Int.self) {
                    outcomes.append(value)
                }
            }
            #expect(outcomes == [42])
        }
        for bad: [UInt8] in [[3, 1, 1, 65], [2, 9, 1, 65], [2, 1, 0], [2, 1, 5, 65]] {
            bad.withUnsafeBytes { bytes in
                #expect(throws: RequestError.self) { try NATSEnvelope.decodeRequestBatchHeader(bytes) }
                #expect(throws: RequestError.self) { try NATSEnvelope.decodeRequest(bytes) }
            }
        }
        // A truncated entry is a codec error after the good ones were passed on.
        let truncated = Array(batch.dropLast(2))
        try truncated.withUnsafeBytes { bytes in
            var count = 0
            let header = try NATSEnvelope.decodeRequestBatchHeader(bytes)
            #expect(throws: RequestError.self) {
                try NATSEnvelope.forEachEntry(bytes, from: header.entries) { _, _ in count += 1 }
            }
            #expect(count == 2)
        }
    }

    @Test("reply frames round-trip: value, WireBytes, remote error, non-codable value")
    func replyRoundTrip() throws {
        func roundTrip(_ outcome: Outcome) -> Outcome {
            var writer = WireWriter()
            NATSEnvelope.encodeReply(outcome, into: &writer)
            return writer.bytes.withUnsafeBytes { NATSEnvelope.decodeReply($0) }
        }
        #expect(try roundTrip(.success("hello")).decode(as: String.self).get() == "hello")
        #expect(try roundTrip(.success(WireBytes([1, 2, 3]))).get(as: WireBytes.self).get() == WireBytes([1, 2, 3]))
        let error = roundTrip(.failure(RequestError(.deadlineExceeded, "late")))
        guard case .failure(let decoded) = error else { Issue.record("expected failure"); return }
        #expect(decoded.code == .deadlineExceeded)
        #expect(decoded.message == "late")
        guard case .failure(let opaque) = roundTrip(.success(TestShardHandler.NotCodable())) else {
            Issue.record("expected failure"); return
        }
        #expect(opaque.code == .codec)
    }

    @Test("every prefix and random mutations of valid frames decode or fail with codec, never crash")
    func fuzz() throws {
        var writer = WireWriter()
        try NATSEnvelope.encodeRequest(
            ClusterRequest(
                shard: 3, key: "key", messageType: "type", payload: .value("payload"), deadline: 0,
                headers: ["a": "b"]),
            remainingMicroseconds: 1_000, into: &writer)
        let valid = writer.bytes
        var generator = SystemRandomNumberGenerator()
        var frames: [[UInt8]] = (0...valid.count).map { Array(valid.prefix($0)) }
        for _ in 0..<2_000 {
            var frame = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                frame[Int.random(in: 0..<frame.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            frames.append(frame)
            frames.append(
                (0..<Int.random(in: 0...32, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator)
                })
        }
        for frame in frames {
            if case .failure(let error) = decodeRequest(frame) {
                #expect(error.code == .codec || error.code == .badRequest)
            }
            if case .failure(let error) = frame.withUnsafeBytes({ NATSEnvelope.decodeReply($0) }) {
                #expect(error.code == .codec || frame.count > 2)
            }
        }
    }

    @Test("subject formatting and token parsing")
    func subjects() {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
            for value: UInt64 in [0, 9, 10, 255, 4_096, 123_456_789, .max] {
                let decimal = SubjectFormat.writeDecimal(value, into: buffer.baseAddress!)
                #expect(String(decoding: buffer.prefix(decimal).map { UInt8($0) }, as: UTF8.self) == String(value))
                buffer[0] = 46  // "."
                let hex = SubjectFormat.writeHex(value, into: buffer.baseAddress! + 1)
                buffer[hex + 1] = 0
                #expect(String(decoding: buffer[1...hex].map { UInt8($0) }, as: UTF8.self) == String(value, radix: 16))
                #expect(SubjectFormat.parseTrailingHex(UnsafePointer(buffer.baseAddress!)) == value)
            }
        }
        #expect(SubjectFormat.parseTrailingHex("_INBOX.abc.zz") == nil)
        #expect(SubjectFormat.parseTrailingHex("_INBOX.abc.") == nil)
        #expect(SubjectFormat.parseTrailingHex("_INBOX.abc.1f") == 0x1f)
    }
}

func decodeRequest(_ frame: [UInt8]) -> Result<NATSEnvelope.Incoming, RequestError> {
    frame.withUnsafeBytes { bytes in
        do throws(RequestError) { return .success(try NATSEnvelope.decodeRequest(bytes)) } catch {
            return .failure(error)
        }
    }
}

@Suite("SlotTable")
struct SlotTableTests {
    @Test("claim, take once, stale tokens rejected after reuse")
    func lifecycle() {
        let table = SlotTable<Int>(capacity: 4)
        #expect(table.capacity == 4)
        let tokens = (0..<4).compactMap { table.claim($0, deadline: 0) }
        #expect(tokens.count == 4)
        #expect(table.claim(99, deadline: 0) == nil, "full")
        #expect(table.take(tokens[1]) == 1)
        #expect(table.take(tokens[1]) == nil, "taken once")
        let reused = table.claim(5, deadline: 0)
        #expect(reused != nil && reused != tokens[1])
        #expect(table.take(tokens[1]) == nil, "stale generation")
        #expect(table.take(reused!) == 5)
    }

    @Test("a slot's link stays readable after its entry is taken, until the slot is claimed again")
    func links() {
        let table = SlotTable<Int>(capacity: 2, withLinks: true)
        let first = table.claim(1, deadline: 0, link: 77)!
        let second = table.claim(2, deadline: 0, link: first)!
        #expect(table.link(of: second) == first)
        #expect(table.take(second) == 2)
        #expect(table.link(of: second) == first, "freed, not claimed again")
        #expect(table.take(first) == 1)
        #expect(table.link(of: first) == 77)
        // Claim both slots again: the old tokens' links are gone, the new ones read theirs.
        let third = table.claim(3, deadline: 0, link: 5)!
        let fourth = table.claim(4, deadline: 0, link: 6)!
        #expect(table.link(of: first) == nil && table.link(of: second) == nil)
        #expect(Set([table.link(of: third), table.link(of: fourth)]) == [5, 6])
        #expect(SlotTable<Int>(capacity: 2).link(of: third) == nil, "a table without links")
    }

    @Test("a nearly full table still finds its free slots; a full one refuses after a bounded probe")
    func nearlyFull() {
        let table = SlotTable<Int>(capacity: 4_096)
        var tokens = (0..<4_096).compactMap { table.claim($0, deadline: 0) }
        #expect(tokens.count == 4_096)
        #expect(table.claim(-1, deadline: 0) == nil, "full")
        // Free 100 slots scattered over the table: 100 claims find them all, the next is refused.
        var generator = SystemRandomNumberGenerator()
        tokens.shuffle(using: &generator)
        for token in tokens.prefix(100) { #expect(table.take(token) != nil) }
        let reclaimed = (0..<100).compactMap { table.claim($0, deadline: 0) }
        #expect(reclaimed.count == 100)
        #expect(table.claim(-2, deadline: 0) == nil, "full again")
    }

    @Test("expire takes only entries past their deadline; takeAll takes the rest")
    func expiry() {
        let table = SlotTable<Int>(capacity: 8)
        _ = table.claim(1, deadline: 100)
        _ = table.claim(2, deadline: 200)
        _ = table.claim(3, deadline: 0)
        var expired: [Int] = []
        table.expire(now: 150) { expired.append($0) }
        #expect(expired == [1])
        var rest: [Int] = []
        table.takeAll { rest.append($0) }
        #expect(rest.sorted() == [2, 3])
    }

    @Test("the armed count follows claims and takes; an idle sweep walks nothing, a due entry is swept once")
    func armedCount() {
        let table = SlotTable<Int>(capacity: 64)
        #expect(table.count == 0)
        var swept: [Int] = []
        table.expire(now: .max) { swept.append($0) }
        #expect(swept.isEmpty)
        let early = table.claim(1, deadline: 100)!
        let late = table.claim(2, deadline: 1_000)!
        #expect(table.count == 2)
        table.expire(now: 500) { swept.append($0) }
        #expect(swept == [1])
        #expect(table.count == 1)
        #expect(table.take(early) == nil)
        #expect(table.take(late) == 2)
        #expect(table.count == 0)
    }

    @Test("the sweep finds every due entry wherever it sits, old ones far behind the newest claims included")
    func sweepFindsOldEntries() {
        let table = SlotTable<Int>(capacity: 1_024)
        let stuck = table.claim(-1, deadline: 100)!
        var tokens: [UInt64] = []
        for round in 0..<5 {
            // Many short-lived requests move the claim cursor far past the stuck one.
            for value in 0..<600 { tokens.append(table.claim(round * 1_000 + value, deadline: 10_000)!) }
            for token in tokens { _ = table.take(token) }
            tokens.removeAll()
        }
        for value in 0..<10 { tokens.append(table.claim(value, deadline: 50)!) }
        var swept: [Int] = []
        table.expire(now: 0) { swept.append($0) }  // the every-64th full walk: nothing is due yet
        #expect(swept.isEmpty)
        table.expire(now: 200) { swept.append($0) }  // the walk from the cursor reaches the stuck entry
        #expect(swept.sorted() == [-1] + Array(0..<10))
        #expect(table.take(stuck) == nil)
        #expect(table.count == 0)
    }

    @Test("concurrent completers: every entry is taken exactly once")
    func concurrentTakes() async {
        let table = SlotTable<Int>(capacity: 1_024)
        let tokens = (0..<1_000).map { table.claim($0, deadline: 1)! }
        let taken = await withTaskGroup(of: [Int].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mine: [Int] = []
                    if worker == 3 {
                        table.expire(now: 2) { mine.append($0) }
                    } else {
                        for token in tokens { if let value = table.take(token) { mine.append(value) } }
                    }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(taken.sorted() == Array(0..<1_000))
    }
}
