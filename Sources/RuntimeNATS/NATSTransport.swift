import CNATS
import Logging
import ClstrRuntime
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The cluster transport between processes: requests travel over NATS to `<prefix>.shard.<id>`, replies come
/// back to one wildcard inbox per transport.
///
/// Two connections, both send-asap by default: one for requests (and their replies), one for serving shards
/// (and sending replies), so a node's serving traffic never queues behind its client traffic.
/// In-flight requests live in a lock-free pending table keyed by a token in the reply subject; many requests share
/// the connection without head-of-line blocking. Every request ends once: with the reply, `noResponder` (nobody
/// subscribed to the shard: the server's 503 status), `deadlineExceeded` (a sweep thread), `outcomeUnknown` (sent,
/// then the connection was lost or the transport closed: the node may have applied it), `disconnected` (not sent:
/// no connection; new requests fail at once until it is back), `transportClosed`, or the remote handler's error
/// with its code.
public final class NATSTransport: ClusterTransport {
    /// The configuration the transport was made with.
    public let configuration: Configuration
    let requestConnection: NATSConnection
    let servingConnection: NATSConnection
    private let core: RequestCore
    private let replier: ServeReplier
    private let batching: NATSBatching?
    /// Always made (replies to batched requests are coalesced whatever ``Configuration/batching`` says).
    let batchingState: NATSBatching
    private let inbox: NATSSubscription
    private let sweeper: BackgroundTicker
    private let shardSubjectPrefix: ContiguousArray<CChar>
    private let defaultTimeoutNanoseconds: UInt64
    private let servings = Locked<[ServeSubscription]>([])

    /// Connects the request and serving connections and subscribes the reply inbox.
    /// - Parameter configuration: servers, prefix, credentials, limits, logger.
    /// - Throws: ``NATSError`` when a connection cannot be made.
    public init(configuration: Configuration) throws(NATSError) {
        self.configuration = configuration
        let logger = configuration.logger
        let core = RequestCore(capacity: configuration.maxInFlightRequests, inbox: LibNATS.createInbox())
        self.core = core

        var requestOptions = configuration.connectionOptions(role: "requests")
        requestOptions.onDisconnected = {
            core.connectionLost()
            if !core.isClosed { logger.info("NATS connection lost", metadata: ["connection": "requests"]) }
        }
        requestOptions.onReconnected = {
            core.connectionRestored()
            logger.info("NATS connection restored", metadata: ["connection": "requests"])
        }
        var servingOptions = configuration.connectionOptions(role: "serving")
        servingOptions.onDisconnected = {
            if !core.isClosed { logger.info("NATS connection lost", metadata: ["connection": "serving"]) }
        }
        servingOptions.onReconnected = {
            logger.info("NATS connection restored", metadata: ["connection": "serving"])
        }
        self.requestConnection = try NATSConnection(options: requestOptions)
        self.servingConnection = try NATSConnection(options: servingOptions)

        let shardSubjectPrefix = ContiguousArray((configuration.subjectPrefix + ".shard.").utf8CString.dropLast())
        // Replies to batched requests are coalesced whatever this transport's own setting: the requester chose.
        let batching = NATSBatching(
            core: core, requestConnection: requestConnection, servingConnection: servingConnection,
            shardSubjectPrefix: shardSubjectPrefix, nodeSubjectPrefix: configuration.subjectPrefix + ".node.",
            shardOwners: configuration.shardOwners, maxBatchBytes: configuration.maxBatchBytes,
            maxBatchCount: configuration.maxBatchCount, logger: logger)
        self.batching = configuration.batching ? batching : nil
        self.batchingState = batching
        let replier = ServeReplier(
            connection: servingConnection, capacity: configuration.maxInFlightServed, batching: batching)
        self.replier = replier
        self.inbox = try NATSSubscription(
            connection: requestConnection, subject: core.inboxSubject + ".*", callback: natsTransportReplyCallback,
            context: core)
        try requestConnection.flush()
        self.sweeper = BackgroundTicker(interval: configuration.sweepInterval) {
            let now = MonotonicClock.now()
            core.expire(now: now)
            replier.expire(now: now)
        }
        self.shardSubjectPrefix = shardSubjectPrefix
        self.defaultTimeoutNanoseconds = UInt64(configuration.defaultTimeout.natsMilliseconds) * 1_000_000
    }

    deinit { close() }

    /// Whether the request connection is up (requests are sent); false during an outage, until libnats reconnects.
    var isConnected: Bool { core.isConnected }

    /// `_INBOX.<nuid>`: replies arrive on `<inboxSubject>.<token>`.
    var inboxSubject: String { core.inboxSubject }

    /// Messages that carried two or more requests (sent) or replies (sent by this transport's nodes), and how
    /// many they carried.
    var batchStatistics: (requestBatches: Int, requests: Int, replyBatches: Int, replies: Int) {
        // Relaxed: statistics.
        (
            batchingState.requestBatchesSent.load(ordering: .relaxed),
            batchingState.requestsInBatches.load(ordering: .relaxed),
            batchingState.replyBatchesSent.load(ordering: .relaxed),
            batchingState.repliesInBatches.load(ordering: .relaxed)
        )
    }

    /// Reply messages this transport's nodes failed to publish, and replies replaced by an error for being larger
    /// than the server's max_payload.
    var replyFailures: (publishFailures: Int, oversized: Int) {
        // Relaxed: statistics.
        (
            batchingState.replyPublishFailures.load(ordering: .relaxed),
            batchingState.oversizedReplies.load(ordering: .relaxed)
        )
    }

    /// Whether batches go to the owner nodes' subjects (a shard map whose node IDs are all subject tokens).
    var batchesToNodeSubjects: Bool { batchingState.usesNodeSubjects }

    /// The subject requests for `shard` are published to (one at a time, or batched without a shard map).
    public func subject(forShard shard: Int) -> String { "\(configuration.subjectPrefix).shard.\(shard)" }

    /// The subject of node `nodeID`: batches for the shards it owns go there when the shard map is known.
    public func subject(forNode nodeID: String) -> String { "\(configuration.subjectPrefix).node.\(nodeID)" }

    public func request(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        if core.isClosed { return replyTo.deliver(.failure(RequestCore.closedError), context: context) }
        guard core.isConnected else {
            return replyTo.deliver(.failure(RequestCore.disconnectedError), context: context)
        }
        guard request.shard >= 0 else {
            return replyTo.deliver(
                .failure(RequestError(.badRequest, "negative shard \(request.shard)")), context: context)
        }
        let now = MonotonicClock.now()
        let deadline = request.deadline == 0 ? now &+ defaultTimeoutNanoseconds : request.deadline
        guard deadline > now else { return replyTo.deliver(.failure(RequestCore.expiredError), context: context) }
        if NATSEnvelope.hasReservedHeader(request.headers) {
            let error = RequestError(
                .badRequest, "header names starting with \(ClusterRequest.reservedHeaderPrefix) are reserved")
            return replyTo.deliver(.failure(error), context: context)
        }

        var writer = ScratchWriter.take()
        defer { ScratchWriter.give(writer) }
        do throws(RequestError) {
            try NATSEnvelope.encodeRequest(
                request, remainingMicroseconds: max(1, (deadline - now) / 1_000), into: &writer)
        } catch {
            return replyTo.deliver(.failure(error), context: context)
        }
        if let batching, let boundary = TurnBoundary.current {
            // On a thread with an open turn: queue it with the turn's other requests for this shard.
            let batcher = batching.batcher(on: boundary)
            let pending = PendingRequest(handler: replyTo, context: context, shard: request.shard)
            let destination = batching.destination(ofShard: request.shard)
            // Sends the open batch first when this frame would take it past the byte bound: only a batch of one
            // can be bigger than the bound (and the server's max_payload).
            batcher.makeRoom(destination: destination, frameBytes: writer.bytes.count)
            let previous = batcher.tail(of: destination) ?? PendingRequest.noPrevious
            guard let token = core.pending.claim(pending, deadline: deadline, link: previous) else {
                return replyTo.deliver(.failure(RequestCore.tableFullError), context: context)
            }
            writer.bytes.withUnsafeBytes { frame in
                batcher.appendRequest(destination: destination, token: token, frame: frame, boundary: boundary)
            }
            return
        }
        let pending = PendingRequest(handler: replyTo, context: context, shard: request.shard)
        guard let token = core.pending.claim(pending, deadline: deadline, link: PendingRequest.noPrevious) else {
            return replyTo.deliver(.failure(RequestCore.tableFullError), context: context)
        }
        let status = withSubjects(shard: request.shard, token: token) { subject, reply in
            writer.bytes.withUnsafeBytes { bytes in
                LibNATS.publishRequest(requestConnection.handle, subject: subject, reply: reply, bytes: bytes)
            }
        }
        if status != .ok, let entry = core.pending.take(token) {
            let code = status.requestErrorCode
            let error =
                code == .transportClosed
                ? RequestCore.closedError : RequestError(status: status, operation: "natsConnection_PublishRequest")
            entry.handler.deliver(.failure(error), context: entry.context)
        }
    }

    /// Formats `<prefix>.shard.<shard>` and `<inbox>.<token hex>` into stack buffers (no allocation).
    private func withSubjects<R>(
        shard: Int, token: UInt64, _ body: (UnsafePointer<CChar>, UnsafePointer<CChar>) -> R
    ) -> R {
        shardSubjectPrefix.withUnsafeBufferPointer { prefix in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: prefix.count + 21) { subject in
                var length = prefix.count
                _ = UnsafeMutableBufferPointer(rebasing: subject[0..<prefix.count]).initialize(from: prefix)
                length += SubjectFormat.writeDecimal(UInt64(shard), into: subject.baseAddress! + length)
                subject[length] = 0
                return core.inboxPrefix.withUnsafeBufferPointer { inbox in
                    withUnsafeTemporaryAllocation(of: CChar.self, capacity: inbox.count + 17) { reply in
                        _ = UnsafeMutableBufferPointer(rebasing: reply[0..<inbox.count]).initialize(from: inbox)
                        let end = inbox.count + SubjectFormat.writeHex(token, into: reply.baseAddress! + inbox.count)
                        reply[end] = 0
                        return body(UnsafePointer(subject.baseAddress!), UnsafePointer(reply.baseAddress!))
                    }
                }
            }
        }
    }

    public func serve(
        shards: [Int], nodeID: String, handler: any ShardRequestHandler
    ) throws(RequestError) -> any TransportSubscription {
        guard !core.isClosed else { throw RequestCore.closedError }
        let server = ShardServer(
            handler: handler, replier: replier, nodeID: nodeID,
            defaultTimeoutNanoseconds: defaultTimeoutNanoseconds)
        var subscriptions: [NATSSubscription] = []
        subscriptions.reserveCapacity(shards.count)
        do throws(NATSError) {
            for shard in shards {
                guard shard >= 0 else {
                    throw NATSError(status: .invalidSubject, operation: "natsConnection_Subscribe")
                }
                subscriptions.append(
                    try NATSSubscription(
                        connection: servingConnection, subject: subject(forShard: shard),
                        callback: natsShardRequestCallback, context: server))
            }
            // Batches for every shard the node owns, when requesters know the shard map. A node ID that is not
            // one subject token has no node subject: requesters whose map names it batch to the shard subjects
            // (``NATSBatching``), so the two sides agree without asking each other.
            if Self.isSubjectToken(nodeID) {
                subscriptions.append(
                    try NATSSubscription(
                        connection: servingConnection, subject: subject(forNode: nodeID),
                        callback: natsShardRequestCallback, context: server))
            }
        } catch {
            subscriptions.forEach { $0.unsubscribe() }
            throw RequestError(error)
        }
        // The server knows the interest once the PONG is back: requests sent after serve() returns reach it.
        // During an outage the flush fails but the subscriptions stand: libnats sends them again on reconnect.
        do throws(NATSError) {
            guard servingConnection.isConnected else {
                throw NATSError(status: .connectionDisconnected, operation: "natsConnection_FlushTimeout")
            }
            try servingConnection.flush()
        } catch  where error.status != .connectionClosed {
            configuration.logger.info(
                "serving before the NATS connection is up",
                metadata: ["node": "\(nodeID)", "status": "\(error.status)"])
        } catch {
            subscriptions.forEach { $0.unsubscribe() }
            throw RequestError(error)
        }
        let serving = ServeSubscription(subscriptions, connection: servingConnection)
        let closedMeanwhile = servings.withLock { list -> Bool in
            list.removeAll { $0.isCancelled }
            if core.isClosed { return true }
            list.append(serving)
            return false
        }
        if closedMeanwhile {
            serving.cancel()
            throw RequestCore.closedError
        }
        configuration.logger.debug(
            "serving shards", metadata: ["node": "\(nodeID)", "shards": "\(shards.count)"])
        return serving
    }

    /// Whether `token` can be one token of a subject (no dots, spaces or wildcards).
    static func isSubjectToken(_ token: String) -> Bool {
        !token.isEmpty && !token.utf8.contains { $0 <= 32 || $0 == 46 || $0 == 42 || $0 == 62 || $0 >= 127 }
    }

    /// Fails in-flight requests with `outcomeUnknown` (they were sent), stops serving, and closes both connections;
    /// later requests fail with `transportClosed`. Idempotent.
    public func close() {
        guard core.markClosed() else { return }
        sweeper.stop()
        inbox.unsubscribe()
        core.failAll(RequestCore.closedInFlightError)
        let serving = servings.withLock { list in
            defer { list.removeAll() }
            return list
        }
        // Unsubscribe everything, then one flush (not one round trip per subscription, up to 1 s each when the
        // server is slow): it also pushes out replies still buffered without send-asap.
        serving.forEach { $0.cancel(flushing: false) }
        if servingConnection.isConnected { try? servingConnection.flush(timeout: .milliseconds(500)) }
        requestConnection.close()
        servingConnection.close()
        // The threads that batched for this transport drop their batchers at their next turn's end.
        TurnBoundary.retireLocals()
    }
}

/// A node's live subscriptions to its shard subjects.
final class ServeSubscription: TransportSubscription {
    private let subscriptions: [NATSSubscription]
    private let connection: NATSConnection
    private let cancelled = Atomic<Bool>(false)

    init(_ subscriptions: [NATSSubscription], connection: NATSConnection) {
        self.subscriptions = subscriptions
        self.connection = connection
    }

    var isCancelled: Bool {
        // Relaxed: used only to prune the transport's list; a stale answer keeps an entry one call longer.
        cancelled.load(ordering: .relaxed)
    }

    func cancel() {
        cancel(flushing: true)
    }

    /// Unsubscribes; with `flushing`, waits (up to 1 s) for the server to have the UNSUBs.
    func cancel(flushing: Bool) {
        // Acquiring-and-releasing: the flag guards no other data; the exchange only has to pick one caller.
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        subscriptions.forEach { $0.unsubscribe() }
        // libnats buffers UNSUB for its flusher; wait for the server to have it, so that a request sent after
        // cancel() returns gets `noResponder` instead of reaching the closed subscription and timing out.
        if flushing && connection.isConnected { try? connection.flush(timeout: .seconds(1)) }
    }
}

/// Subject formatting into raw buffers.
enum SubjectFormat {
    /// Writes `value` in decimal; returns the number of characters.
    static func writeDecimal(_ value: UInt64, into buffer: UnsafeMutablePointer<CChar>) -> Int {
        var digits = 1
        var probe = value
        while probe >= 10 { probe /= 10; digits += 1 }
        var remaining = value
        for position in stride(from: digits - 1, through: 0, by: -1) {
            buffer[position] = CChar(48 + remaining % 10)
            remaining /= 10
        }
        return digits
    }

    /// Writes `value` in lowercase hex without leading zeros; returns the number of characters.
    static func writeHex(_ value: UInt64, into buffer: UnsafeMutablePointer<CChar>) -> Int {
        let digits = value == 0 ? 1 : (67 - value.leadingZeroBitCount) / 4
        var remaining = value
        for position in stride(from: digits - 1, through: 0, by: -1) {
            let nibble = UInt8(remaining & 0xF)
            buffer[position] = CChar(nibble < 10 ? 48 + nibble : 87 + nibble)
            remaining >>= 4
        }
        return digits
    }

    /// Parses the hex digits after the last `.` of `subject`.
    static func parseTrailingHex(_ subject: UnsafePointer<CChar>) -> UInt64? {
        let length = strlen(subject)
        var start = length
        while start > 0 && subject[start - 1] != 46 { start -= 1 }
        guard start < length, length - start <= 16 else { return nil }
        var value: UInt64 = 0
        for index in start..<length {
            let c = UInt8(bitPattern: subject[index])
            let nibble: UInt8
            switch c {
            case 48...57: nibble = c - 48
            case 97...102: nibble = c - 87
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}
