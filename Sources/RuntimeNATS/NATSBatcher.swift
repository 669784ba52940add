import CNATS
import ClstrRuntime
import Logging
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
    let logger: Logger
    /// Unique per process: tells this transport's thread-local batchers from a dead one's stored under the same
    /// (reused) object identifier.
    let serial: UInt64
    /// `<prefix>.shard.` without the terminating NUL.
    let shardSubjectPrefix: ContiguousArray<CChar>
    /// Per shard, the index of its owner in ``nodeSubjects`` (empty: batches go to the shard subjects).
    let ownerOfShard: [Int32]
    /// `<prefix>.node.<id>` with the terminating NUL, per node of the shard map.
    let nodeSubjects: [ContiguousArray<CChar>]
    /// A batch is sent before the turn ends once it holds this many bytes or requests; a batch of two or more
    /// never holds more bytes (at most the server's max_payload).
    let maxBatchBytes: Int
    let maxBatchCount: Int
    /// Messages that carried two or more requests (replies), and how many they carried. Relaxed counters: a
    /// statistic, read after the fact; one add per batch, not per request.
    let requestBatchesSent = Atomic<Int>(0)
    let requestsInBatches = Atomic<Int>(0)
    let replyBatchesSent = Atomic<Int>(0)
    let repliesInBatches = Atomic<Int>(0)
    /// Reply messages (batches or single replies) whose publish failed, and replies replaced by an error because
    /// they were larger than the server's max_payload. Relaxed: statistics, as above.
    let replyPublishFailures = Atomic<Int>(0)
    let oversizedReplies = Atomic<Int>(0)

    private static let serials = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - shardOwners: per shard, its owner node's ID (empty: batches go to the shard subjects). When an ID is
    ///     not one subject token (a dot, space or wildcard in it: `10.0.0.1`), every batch goes to the shard
    ///     subjects: that node cannot subscribe `<prefix>.node.<id>` (``NATSTransport/serve(shards:nodeID:handler:)``
    ///     subscribes only a token), and requesters and nodes agree with no exchange.
    init(
        core: RequestCore, requestConnection: NATSConnection, servingConnection: NATSConnection,
        shardSubjectPrefix: ContiguousArray<CChar>, nodeSubjectPrefix: String, shardOwners: [String],
        maxBatchBytes: Int, maxBatchCount: Int, logger: Logger
    ) {
        var nodes: [String] = []
        var owners: [Int32] = []
        if let invalid = shardOwners.first(where: { !NATSTransport.isSubjectToken($0) }) {
            logger.info(
                "a node ID is not a subject token: batches go to the shard subjects",
                metadata: ["node": "\(invalid)"])
        } else {
            for owner in shardOwners {
                if let index = nodes.firstIndex(of: owner) {
                    owners.append(Int32(index))
                } else {
                    owners.append(Int32(nodes.count))
                    nodes.append(owner)
                }
            }
        }
        self.ownerOfShard = owners
        self.nodeSubjects = nodes.map { ContiguousArray((nodeSubjectPrefix + $0).utf8CString) }
        self.core = core
        self.requestConnection = requestConnection
        self.servingConnection = servingConnection
        self.logger = logger
        // Relaxed: only uniqueness matters.
        self.serial = Self.serials.wrappingAdd(1, ordering: .relaxed).newValue
        self.shardSubjectPrefix = shardSubjectPrefix
        // A batch of two or more must fit the server's max_payload (both connections use the same servers).
        var bound = max(256, maxBatchBytes)
        let maxPayload = Int(
            min(
                natsConnection_GetMaxPayload(requestConnection.handle),
                natsConnection_GetMaxPayload(servingConnection.handle)))
        if maxPayload > 0 { bound = min(bound, maxPayload) }
        self.maxBatchBytes = bound
        self.maxBatchCount = max(1, maxBatchCount)
    }

    /// Whether batches go to the owner nodes' subjects (else to the shard subjects).
    var usesNodeSubjects: Bool { !nodeSubjects.isEmpty }

    /// Counts a reply larger than the server's max_payload (on `batching`, when there is one) and hands `publish`
    /// the error frame that replaces it: the request was handled, so the requester must not take it for not
    /// applied (`outcomeUnknown`, saying why).
    static func replaceOversizedReply(
        of bytes: Int, counting batching: NATSBatching?, _ publish: (UnsafeRawBufferPointer) -> Void
    ) {
        // Relaxed: statistics (see the declarations).
        batching?.oversizedReplies.wrappingAdd(1, ordering: .relaxed)
        let error = RequestError(
            .outcomeUnknown,
            "the request was handled, but its reply (\(bytes) bytes) is larger than the NATS server's max_payload")
        var writer = ScratchWriter.take()
        defer { ScratchWriter.give(writer) }
        NATSEnvelope.encodeError(error, into: &writer)
        writer.bytes.withUnsafeBytes(publish)
    }

    /// Where a request for `shard` is batched: its owner node's index, or (no owner known) the node count plus the
    /// shard.
    func destination(ofShard shard: Int) -> Int {
        shard < ownerOfShard.count ? Int(ownerOfShard[shard]) : nodeSubjects.count + shard
    }

    /// The calling thread's batcher for this transport, when the thread has an open turn.
    func batcher(on boundary: TurnBoundary) -> NATSBatcher {
        let batcher = boundary.local(for: ObjectIdentifier(self)) { NATSBatcher(batching: self) }
        // A dead transport's batcher under a reused identifier (not yet dropped by the boundary): replace it.
        guard batcher.serial == serial else {
            let fresh = NATSBatcher(batching: self)
            boundary.replaceLocal(for: ObjectIdentifier(self), with: fresh)
            return fresh
        }
        return batcher
    }
}

/// One thread's coalescing buffers for one transport: requests by destination (the owner node's subject when the
/// shard map is known, else the shard's), replies by requester inbox.
/// Everything appended during a turn goes out when the turn ends (``TurnBoundary``), one NATS message per
/// destination (a batch of one is sent as a plain v1 frame), or earlier when a batch reaches its bounds.
///
/// Thread-confined: it lives in its thread's ``TurnBoundary`` and only that thread calls it. It does not keep the
/// shared ``NATSBatching`` (its connections and pending table) alive between turns: the boundary keeps it on the
/// thread after the transport is gone (until it drops it, see ``isRetired``), and a thread's last release must not
/// destroy NATS connections (in a thread-exit destructor, on a libnats thread). While it has work queued in a turn
/// it holds the batching strongly (`retained`, one retain per turn); the rest of the time it is used only by
/// ``NATSBatching/batcher(on:)``, whose caller holds the batching.
final class NATSBatcher: TurnEndFlusher, TurnBoundaryLocal {
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

    /// The varint token and length before an entry's frame: at most 10 bytes each.
    private static let entryOverhead = 20

    /// Valid while a caller of ``NATSBatching/batcher(on:)`` holds the batching, or while `retained` does (see
    /// the type's discussion): never used otherwise.
    unowned(unsafe) let batching: NATSBatching
    let serial: UInt64
    // Thread-confined (one batcher per thread's boundary, touched only by that thread), and no access to these
    // overlaps another: the runtime's dynamic exclusivity checks are off for them (they were ~1,000 instructions
    // per request on a NATS requester in callgrind, with the boundary's own).
    /// The batching while a flush is scheduled.
    @exclusivity(unchecked) private var retained: NATSBatching?
    /// For ``isRetired`` only (a weak load, at the rare drop check).
    private weak var owner: NATSBatching?
    @exclusivity(unchecked) private var scheduled = false
    @exclusivity(unchecked) private var requestBatches: [RequestBatch] = []
    @exclusivity(unchecked) private var openRequestBatches = 0
    /// Per destination: the index of its open batch in `requestBatches`, or -1.
    @exclusivity(unchecked) private var batchOfDestination: [Int32] = []
    @exclusivity(unchecked) private var replyBatches: [ReplyBatch] = []
    @exclusivity(unchecked) private var openReplyBatches = 0

    init(batching: NATSBatching) {
        self.batching = batching
        self.serial = batching.serial
        self.owner = batching
        requestBatches.reserveCapacity(64)
        replyBatches.reserveCapacity(8)
    }

    /// Its transport is closed or gone: the thread's boundary drops it (``TurnBoundary/retireLocals()``).
    var isRetired: Bool {
        if scheduled { return false }
        guard let owner else { return true }
        return owner.core.isClosed
    }

    // MARK: Requests

    /// The token of the last request queued for `destination` in this turn (the next one links to it), if any.
    func tail(of destination: Int) -> UInt64? {
        guard destination < batchOfDestination.count else { return nil }
        let index = Int(batchOfDestination[destination])
        guard index >= 0, requestBatches[index].count > 0 else { return nil }
        return requestBatches[index].lastToken
    }

    /// Sends the open batch for `destination` now when a frame of `frameBytes` would take it past the byte bound,
    /// so that only a batch of one can be larger than the bound. Call it before ``tail(of:)``: the next request
    /// then starts a new batch (and a new chain).
    func makeRoom(destination: Int, frameBytes: Int) {
        guard destination < batchOfDestination.count else { return }
        let index = Int(batchOfDestination[destination])
        guard index >= 0, requestBatches[index].count > 0,
            requestBatches[index].bytes.count + Self.entryOverhead + frameBytes > batching.maxBatchBytes
        else { return }
        // The failure is delivered after the access to the batch ends: a reply handler may send again.
        if let failure = send(&requestBatches[index]) { batching.core.failChain(from: failure.0, failure.1) }
    }

    /// Queues an encoded v1 request `frame` (its pending entry is `token`) for `destination`
    /// (``NATSBatching/destination(ofShard:)``); call ``makeRoom(destination:frameBytes:)`` first.
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
        var writer = ScratchWriter.take()
        NATSEnvelope.encodeReply(outcome, into: &writer)
        let frameCount = writer.bytes.count
        // Only a batch of one may be larger than the bound: send the open batch first when this reply would pass it.
        if replyBatches[index].count > 0
            && replyBatches[index].bytes.count + Self.entryOverhead + frameCount > batching.maxBatchBytes
        {
            send(&replyBatches[index])
        }
        if replyBatches[index].count == 0 {
            replyBatches[index].bytes.removeAll(keepingCapacity: true)
            NATSEnvelope.startReplyBatch(into: &replyBatches[index].bytes)
        }
        let start = writer.bytes.withUnsafeBytes { frame in
            NATSEnvelope.appendEntry(token: token, frame: frame, into: &replyBatches[index].bytes)
        }
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
    /// it. A failed publish is counted (``NATSBatching/replyPublishFailures``) and logged; a reply larger than the
    /// server's max_payload is replaced by an `outcomeUnknown` error saying so (the request was handled: the
    /// requester must not take it for not applied), a batch that is (a max_payload below the bound) by its
    /// replies one by one. Other failures (the connection is down or closed) leave the requests to the
    /// requester's disconnect, close or deadline handling (`outcomeUnknown`, `deadlineExceeded`: effect unknown).
    private func send(_ batch: inout ReplyBatch) {
        guard batch.count > 0 else { return }
        defer { batch.count = 0 }
        let single = batch.count == 1
        let range = single ? batch.firstFrame : 0..<batch.bytes.count
        // A batch goes to `<inbox>b` (0xb written in hex): the requester tells batches by their version byte.
        let suffix = single ? batch.firstToken : 0xB
        let status = batch.bytes.withUnsafeBytes { bytes in
            publishReply(UnsafeRawBufferPointer(rebasing: bytes[range]), inbox: batch.inbox, suffix: suffix)
        }
        if status == .ok {
            if !single {
                // Relaxed: statistics (see the declarations).
                batching.replyBatchesSent.wrappingAdd(1, ordering: .relaxed)
                batching.repliesInBatches.wrappingAdd(batch.count, ordering: .relaxed)
            }
            return
        }
        // Relaxed: statistics (see the declarations).
        batching.replyPublishFailures.wrappingAdd(1, ordering: .relaxed)
        guard status == .maxPayload else {
            batching.logger.debug(
                "a reply message was not sent", metadata: ["replies": "\(batch.count)", "status": "\(status)"])
            return
        }
        let inbox = batch.inbox
        if single {
            sendOversized(token: batch.firstToken, bytes: range.count, inbox: inbox)
            return
        }
        batch.bytes.withUnsafeBytes { bytes in
            let all = UnsafeRawBufferPointer(rebasing: bytes[range])
            try? NATSEnvelope.forEachEntry(all, from: NATSEnvelope.replyBatchEntries(all)) { token, frame in
                if publishReply(frame, inbox: inbox, suffix: token) == .maxPayload {
                    sendOversized(token: token, bytes: frame.count, inbox: inbox)
                }
            }
        }
    }

    /// Tells the requester of `token` that its reply (`bytes` long) did not fit the server's max_payload.
    private func sendOversized(token: UInt64, bytes: Int, inbox: ContiguousArray<CChar>) {
        batching.logger.info("a reply is larger than the NATS server's max_payload", metadata: ["bytes": "\(bytes)"])
        NATSBatching.replaceOversizedReply(of: bytes, counting: batching) {
            _ = publishReply($0, inbox: inbox, suffix: token)
        }
    }

    /// Publishes `bytes` to `<inbox><suffix hex>` on the serving connection.
    private func publishReply(
        _ bytes: UnsafeRawBufferPointer, inbox: ContiguousArray<CChar>, suffix: UInt64
    )
        -> NATSStatus
    {
        let connection = batching.servingConnection.handle
        return inbox.withUnsafeBufferPointer { inbox in
            SubjectFormat.with(prefix: inbox, number: suffix, hex: true) { subject in
                LibNATS.publish(connection, subject: subject, bytes: bytes)
            }
        }
    }

    // MARK: The turn

    private func schedule(on boundary: TurnBoundary) {
        guard !scheduled else { return }
        scheduled = true
        retained = batching  // kept alive until the flush (one retain per turn)
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
        // A handler above may have scheduled a new round (which retained again); else let the batching go.
        if !scheduled { retained = nil }
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
