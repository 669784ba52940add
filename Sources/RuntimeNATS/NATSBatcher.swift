import CNATS
import ClstrRuntime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What every thread's ``NATSBatcher`` of one transport shares: the connections, the pending table, the subjects
/// and the bounds.
final class NATSBatching: Sendable {
    let core: RequestCore
    let requestConnection: NATSConnection
    let servingConnection: NATSConnection
    /// `<prefix>.shard.` without the terminating NUL.
    let shardSubjectPrefix: ContiguousArray<CChar>
    /// Per shard, the index of its owner in ``nodeSubjects`` (empty: batches go to the shard subjects).
    let ownerOfShard: [Int32]
    /// `<prefix>.node.<id>` with the terminating NUL, per node of the shard map.
    let nodeSubjects: [ContiguousArray<CChar>]
    /// A batch is sent before the turn ends once it holds this many bytes or requests.
    let maxBatchBytes: Int
    let maxBatchCount: Int
    /// Messages that carried two or more requests (replies), and how many they carried. Relaxed counters: a
    /// statistic, read after the fact; one add per batch, not per request.
    let requestBatchesSent = Atomic<Int>(0)
    let requestsInBatches = Atomic<Int>(0)
    let replyBatchesSent = Atomic<Int>(0)
    let repliesInBatches = Atomic<Int>(0)

    init(
        core: RequestCore, requestConnection: NATSConnection, servingConnection: NATSConnection,
        shardSubjectPrefix: ContiguousArray<CChar>, nodeSubjectPrefix: String, shardOwners: [String],
        maxBatchBytes: Int, maxBatchCount: Int
    ) {
        var nodes: [String] = []
        var owners: [Int32] = []
        for owner in shardOwners {
            if let index = nodes.firstIndex(of: owner) {
                owners.append(Int32(index))
            } else {
                owners.append(Int32(nodes.count))
                nodes.append(owner)
            }
        }
        self.ownerOfShard = owners
        self.nodeSubjects = nodes.map { ContiguousArray((nodeSubjectPrefix + $0).utf8CString) }
        self.core = core
        self.requestConnection = requestConnection
        self.servingConnection = servingConnection
        self.shardSubjectPrefix = shardSubjectPrefix
        self.maxBatchBytes = max(256, maxBatchBytes)
        self.maxBatchCount = max(1, maxBatchCount)
    }

    /// Where a request for `shard` is batched: its owner node's index, or (no owner known) the node count plus the
    /// shard.
    func destination(ofShard shard: Int) -> Int {
        shard < ownerOfShard.count ? Int(ownerOfShard[shard]) : nodeSubjects.count + shard
    }

    /// The calling thread's batcher for this transport, when the thread has an open turn.
    func batcher(on boundary: TurnBoundary) -> NATSBatcher {
        boundary.local(for: ObjectIdentifier(self)) { NATSBatcher(batching: self) }
    }
}

/// One thread's coalescing buffers for one transport: requests by destination (the owner node's subject when the
/// shard map is known, else the shard's), replies by requester inbox.
/// Everything appended during a turn goes out when the turn ends (``TurnBoundary``), one NATS message per
/// destination (a batch of one is sent as a plain v1 frame), or earlier when a batch reaches its bounds.
///
/// Thread-confined: it lives in its thread's ``TurnBoundary`` and only that thread calls it. It holds the shared
/// ``NATSBatching`` strongly, so the identifier it is stored under is never reused while it exists.
final class NATSBatcher: TurnEndFlusher {
    private struct RequestBatch {
        var destination = -1
        var bytes: [UInt8] = []
        var count = 0
        var lastToken: UInt64 = 0
        /// Where the first entry's v1 frame sits (sent alone when the batch holds one request).
        var firstFrame: Range<Int> = 0..<0
    }

    private struct ReplyBatch {
        /// `_INBOX.<nuid>.` without the NUL.
        var inbox: ContiguousArray<CChar> = []
        var bytes: [UInt8] = []
        var count = 0
        var firstToken: UInt64 = 0
        var firstFrame: Range<Int> = 0..<0
    }

    let batching: NATSBatching
    private var scheduled = false
    private var requestBatches: [RequestBatch] = []
    private var openRequestBatches = 0
    /// Per destination: the index of its open batch in `requestBatches`, or -1.
    private var batchOfDestination: [Int32] = []
    private var replyBatches: [ReplyBatch] = []
    private var openReplyBatches = 0

    init(batching: NATSBatching) {
        self.batching = batching
        requestBatches.reserveCapacity(64)
        replyBatches.reserveCapacity(8)
    }

    // MARK: Requests

    /// The token of the last request queued for `destination` in this turn (the next one links to it), if any.
    func tail(of destination: Int) -> UInt64? {
        guard destination < batchOfDestination.count else { return nil }
        let index = Int(batchOfDestination[destination])
        guard index >= 0, requestBatches[index].count > 0 else { return nil }
        return requestBatches[index].lastToken
    }

    /// Queues an encoded v1 request `frame` (its pending entry is `token`) for `destination`
    /// (``NATSBatching/destination(ofShard:)``).
    func appendRequest(destination: Int, token: UInt64, frame: UnsafeRawBufferPointer, boundary: TurnBoundary) {
        if destination >= batchOfDestination.count {
            batchOfDestination.append(
                contentsOf: repeatElement(-1, count: destination + 1 - batchOfDestination.count))
        }
        var index = Int(batchOfDestination[destination])
        if index < 0 {
            index = openRequestBatches
            if index == requestBatches.count { requestBatches.append(RequestBatch()) }
            openRequestBatches += 1
            batchOfDestination[destination] = Int32(index)
            requestBatches[index].destination = destination
            requestBatches[index].count = 0
        }
        if requestBatches[index].count == 0 {
            requestBatches[index].bytes.removeAll(keepingCapacity: true)
            batching.core.inboxPrefix.withUnsafeBufferPointer { inbox in
                NATSEnvelope.startRequestBatch(inbox: inbox, into: &requestBatches[index].bytes)
            }
        }
        let start = NATSEnvelope.appendEntry(token: token, frame: frame, into: &requestBatches[index].bytes)
        requestBatches[index].count += 1
        requestBatches[index].lastToken = token
        if requestBatches[index].count == 1 { requestBatches[index].firstFrame = start..<(start + frame.count) }
        if requestBatches[index].count >= batching.maxBatchCount
            || requestBatches[index].bytes.count >= batching.maxBatchBytes
        {
            // The failure is delivered after the access to the batch ends: a reply handler may send again.
            if let failure = send(&requestBatches[index]) { batching.core.failChain(from: failure.0, failure.1) }
        }
        schedule(on: boundary)
    }

    /// Publishes a request batch (a single request as its v1 frame) and empties it.
    /// - Returns: when it was not sent, the batch's last token and the error to fail its chain with (the caller
    ///   does so once it no longer holds the batch: the requests' handlers may send again on this thread).
    private func send(_ batch: inout RequestBatch) -> (UInt64, RequestError)? {
        guard batch.count > 0 else { return nil }
        defer { batch.count = 0 }
        let core = batching.core
        if core.isClosed { return (batch.lastToken, RequestCore.closedError) }
        guard core.isConnected else { return (batch.lastToken, RequestCore.disconnectedError) }
        let connection = batching.requestConnection.handle
        let range = batch.count == 1 ? batch.firstFrame : 0..<batch.bytes.count
        let lastToken = batch.lastToken
        let bytes = batch.bytes
        func publish(to subject: UnsafePointer<CChar>) -> NATSStatus {
            core.inboxPrefix.withUnsafeBufferPointer { inbox in
                SubjectFormat.with(prefix: inbox, number: lastToken, hex: true) { reply in
                    bytes.withUnsafeBytes { bytes in
                        LibNATS.publishRequest(
                            connection, subject: subject, reply: reply,
                            bytes: UnsafeRawBufferPointer(rebasing: bytes[range]))
                    }
                }
            }
        }
        let nodes = batching.nodeSubjects
        let status: NATSStatus
        if batch.destination < nodes.count {
            status = nodes[batch.destination].withUnsafeBufferPointer { publish(to: $0.baseAddress!) }
        } else {
            let shard = UInt64(batch.destination - nodes.count)
            status = batching.shardSubjectPrefix.withUnsafeBufferPointer { prefix in
                SubjectFormat.with(prefix: prefix, number: shard, hex: false) { publish(to: $0) }
            }
        }
        if status == .ok && batch.count > 1 {
            // Relaxed: statistics (see the declarations).
            batching.requestBatchesSent.wrappingAdd(1, ordering: .relaxed)
            batching.requestsInBatches.wrappingAdd(batch.count, ordering: .relaxed)
        }
        guard status == .ok else {
            let error =
                status.requestErrorCode == .transportClosed
                ? RequestCore.closedError : RequestError(status: status, operation: "natsConnection_PublishRequest")
            return (lastToken, error)
        }
        return nil
    }

    // MARK: Replies

    /// Queues the reply to the request `token` of the requester whose inbox is `inbox` (NUL-terminated).
    func appendReply(_ outcome: Outcome, token: UInt64, inbox: UnsafePointer<CChar>, boundary: TurnBoundary) {
        let length = strlen(inbox)
        var index = -1
        for candidate in 0..<openReplyBatches
        where replyBatches[candidate].inbox.count == length
            && replyBatches[candidate].inbox.withUnsafeBufferPointer({ memcmp($0.baseAddress!, inbox, length) == 0 })
        {
            index = candidate
            break
        }
        if index < 0 {
            index = openReplyBatches
            if index == replyBatches.count { replyBatches.append(ReplyBatch()) }
            openReplyBatches += 1
            replyBatches[index].inbox.removeAll(keepingCapacity: true)
            replyBatches[index].inbox.append(contentsOf: UnsafeBufferPointer(start: inbox, count: length))
            replyBatches[index].count = 0
        }
        if replyBatches[index].count == 0 {
            replyBatches[index].bytes.removeAll(keepingCapacity: true)
            NATSEnvelope.startReplyBatch(into: &replyBatches[index].bytes)
        }
        var writer = ScratchWriter.take()
        NATSEnvelope.encodeReply(outcome, into: &writer)
        let start = writer.bytes.withUnsafeBytes { frame in
            NATSEnvelope.appendEntry(token: token, frame: frame, into: &replyBatches[index].bytes)
        }
        let frameCount = writer.bytes.count
        ScratchWriter.give(writer)
        replyBatches[index].count += 1
        if replyBatches[index].count == 1 {
            replyBatches[index].firstToken = token
            replyBatches[index].firstFrame = start..<(start + frameCount)
        }
        if replyBatches[index].count >= batching.maxBatchCount
            || replyBatches[index].bytes.count >= batching.maxBatchBytes
        {
            send(&replyBatches[index])
        }
        schedule(on: boundary)
    }

    /// Publishes a reply batch to `<inbox>b` (a single reply as its v1 frame to `<inbox><token hex>`) and empties
    /// it. A failed publish is not reported: the requester's deadline, disconnect or close handling answers it.
    private func send(_ batch: inout ReplyBatch) {
        guard batch.count > 0 else { return }
        defer { batch.count = 0 }
        let connection = batching.servingConnection.handle
        let single = batch.count == 1
        if !single {
            // Relaxed: statistics (see the declarations).
            batching.replyBatchesSent.wrappingAdd(1, ordering: .relaxed)
            batching.repliesInBatches.wrappingAdd(batch.count, ordering: .relaxed)
        }
        let range = single ? batch.firstFrame : 0..<batch.bytes.count
        // A batch goes to `<inbox>b` (0xb written in hex): the requester tells batches by their version byte.
        let suffix = single ? batch.firstToken : 0xB
        let bytes = batch.bytes
        _ = batch.inbox.withUnsafeBufferPointer { inbox in
            SubjectFormat.with(prefix: inbox, number: suffix, hex: true) { subject in
                bytes.withUnsafeBytes { bytes in
                    LibNATS.publish(connection, subject: subject, bytes: UnsafeRawBufferPointer(rebasing: bytes[range]))
                }
            }
        }
    }

    // MARK: The turn

    private func schedule(on boundary: TurnBoundary) {
        guard !scheduled else { return }
        scheduled = true
        boundary.defer(self)
    }

    func flushAtEndOfTurn() {
        scheduled = false
        var failures: [(UInt64, RequestError)] = []  // allocates only when a batch could not be sent
        for index in 0..<openRequestBatches {
            if let failure = send(&requestBatches[index]) { failures.append(failure) }
            batchOfDestination[requestBatches[index].destination] = -1
        }
        openRequestBatches = 0
        for index in 0..<openReplyBatches {
            send(&replyBatches[index])
        }
        openReplyBatches = 0
        // Last, with every buffer consistent: a handler that sends again opens a new batch (and a new round).
        for (token, error) in failures { batching.core.failChain(from: token, error) }
    }
}

extension SubjectFormat {
    /// Runs `body` with `prefix` followed by `number` (decimal or lowercase hex) and a NUL, in a stack buffer.
    static func with<R>(
        prefix: UnsafeBufferPointer<CChar>, number: UInt64, hex: Bool, _ body: (UnsafePointer<CChar>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: prefix.count + 21) { buffer in
            _ = UnsafeMutableBufferPointer(rebasing: buffer[0..<prefix.count]).initialize(from: prefix)
            let digits =
                hex
                ? writeHex(number, into: buffer.baseAddress! + prefix.count)
                : writeDecimal(number, into: buffer.baseAddress! + prefix.count)
            buffer[prefix.count + digits] = 0
            return body(UnsafePointer(buffer.baseAddress!))
        }
    }
}
