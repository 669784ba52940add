import CNATS
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A JetStream context (`jsCtx*`) on a ``NATSConnection``: stream management, direct gets, ordered reads,
/// asynchronous publishes with per-message acknowledgement callbacks, and key-value buckets.
///
/// Every method but ``publishAsync(subject:payload:messageID:expectation:timeout:completion:)`` blocks its thread
/// for a round trip to the server: call them from a dedicated thread, never from the Swift cooperative pool.
public final class JetStreamContext: @unchecked Sendable {
    // @unchecked Sendable: `handle` is an immutable pointer to a libnats JetStream context, which is thread-safe
    // for every call made here (publish, direct get, stream and KV requests); it is destroyed only in deinit, when
    // no other reference exists (libnats forbids destroying it concurrently with a call). `acks` is Sendable.

    /// The `jsCtx*`.
    let handle: OpaquePointer
    /// Keeps the connection (and so the `natsConnection*`) alive as long as the context.
    public let connection: NATSConnection
    /// The in-flight asynchronous publishes, by message; the ack handler's closure.
    let acks: PublishAcks

    /// Creates a context.
    /// - Parameters:
    ///   - connection: the connection.
    ///   - apiTimeout: how long a JetStream API request (stream info, direct get, KV operation) may take.
    ///   - maxPendingPublishes: the most asynchronous publishes in flight; a publish beyond it fails at once
    ///     (it is not sent) instead of stalling its caller.
    /// - Throws: ``NATSError`` when libnats refuses the options.
    public init(
        connection: NATSConnection, apiTimeout: Duration = .seconds(5), maxPendingPublishes: Int = 1 << 20
    ) throws(NATSError) {
        // Retained for libnats and never released: the ack handler may still be running on libnats' reply thread
        // while the context is destroyed (libnats allows that), so the box must outlive the context. One small
        // object per context, and contexts live as long as their store.
        let acks = PublishAcks()
        let closure = Unmanaged.passRetained(acks).toOpaque()
        var options = jsOptions()
        jsOptions_Init(&options)
        options.Wait = max(1, apiTimeout.natsMilliseconds)
        options.PublishAsync.MaxPending = Int64(maxPendingPublishes)
        options.PublishAsync.AckHandler = jetStreamPublishAckCallback
        options.PublishAsync.AckHandlerClosure = closure
        // The stall wait bounds how long a publish at the pending limit blocks: 1 ms, then it fails unsent.
        options.PublishAsync.StallWait = 1
        var context: OpaquePointer?
        try LibNATS.jetStream(&context, connection.handle, options: &options).check("natsConnection_JetStream")
        guard let context else { throw NATSError(status: .noMemory, operation: "natsConnection_JetStream") }
        self.handle = context
        self.connection = connection
        self.acks = acks
    }

    deinit {
        jsCtx_Destroy(handle)
    }

    // MARK: Streams

    /// How a stream stores its messages.
    public enum Storage: Sendable {
        /// Files under the server's store directory (`js_FileStorage`).
        case file
        /// Memory only (`js_MemoryStorage`).
        case memory
    }

    /// A stream's configuration (the subset this runtime uses).
    public struct StreamConfiguration: Sendable {
        public var name: String
        public var subjects: [String]
        public var storage: Storage
        /// 1 on a single server (and on nats-server 2.9, whose clustered per-subject expectation was racy).
        public var replicas: Int
        /// How long the server remembers a `Nats-Msg-Id` to drop a duplicate publish (server default: 2 minutes).
        public var duplicateWindow: Duration
        /// Whether direct gets are allowed (`AllowDirect`); they need it.
        public var allowDirect: Bool
        /// The largest message the stream accepts; `nil` keeps the server's `max_payload`.
        public var maxMessageSize: Int?
        /// How long messages are kept; `nil` for ever.
        public var maxAge: Duration?

        public init(
            name: String, subjects: [String], storage: Storage = .file, replicas: Int = 1,
            duplicateWindow: Duration = .seconds(120), allowDirect: Bool = true, maxMessageSize: Int? = nil,
            maxAge: Duration? = nil
        ) {
            self.name = name
            self.subjects = subjects
            self.storage = storage
            self.replicas = replicas
            self.duplicateWindow = duplicateWindow
            self.allowDirect = allowDirect
            self.maxMessageSize = maxMessageSize
            self.maxAge = maxAge
        }
    }

    /// Creates the stream, or updates it to `configuration` when it exists.
    /// - Throws: ``NATSError`` (for example ``JetStreamErrorCode/notEnabled`` without `-js`).
    public func createOrUpdateStream(_ configuration: StreamConfiguration) throws(NATSError) {
        var subjects = configuration.subjects.map { UnsafePointer(strdup($0)) }
        defer { subjects.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let name = strdup(configuration.name)
        defer { free(name) }
        var config = jsStreamConfig()
        jsStreamConfig_Init(&config)
        config.Name = UnsafePointer(name)
        config.SubjectsLen = Int32(subjects.count)
        config.Storage = configuration.storage == .file ? js_FileStorage : js_MemoryStorage
        config.Replicas = Int64(configuration.replicas)
        config.Duplicates = configuration.duplicateWindow.nanosecondsClamped
        config.AllowDirect = configuration.allowDirect
        if let size = configuration.maxMessageSize { config.MaxMsgSize = Int32(clamping: size) }
        if let age = configuration.maxAge { config.MaxAge = age.nanosecondsClamped }
        var errorCode = jsErrCode(0)
        let status = subjects.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                pointer -> NATSStatus in
                config.Subjects = pointer
                let added = LibNATS.addStream(handle, configuration: &config, errorCode: &errorCode)
                guard added != .ok, errorCode.rawValue == JSStreamNameExistErr.rawValue else { return added }
                errorCode = jsErrCode(0)
                return LibNATS.updateStream(handle, configuration: &config, errorCode: &errorCode)
            }
        }
        if status != .ok {
            throw NATSError(status: status, operation: "js_AddStream", jetStreamCode: errorCode)
        }
    }

    /// Deletes the stream and all its messages.
    /// - Throws: ``NATSError`` (``JetStreamErrorCode/streamNotFound`` when there is none).
    public func deleteStream(_ name: String) throws(NATSError) {
        var errorCode = jsErrCode(0)
        let status = LibNATS.deleteStream(handle, name: name, errorCode: &errorCode)
        if status != .ok { throw NATSError(status: status, operation: "js_DeleteStream", jetStreamCode: errorCode) }
    }

    /// The sequence of the stream's last message (0 when it never had one).
    /// - Throws: ``NATSError`` (``JetStreamErrorCode/streamNotFound``, `timeout`, …).
    public func lastSequence(stream: String) throws(NATSError) -> UInt64 {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var errorCode = jsErrCode(0)
        let status = LibNATS.streamInfo(&info, handle, name: stream, errorCode: &errorCode)
        guard status == .ok, let info else {
            throw NATSError(status: status, operation: "js_GetStreamInfo", jetStreamCode: errorCode)
        }
        defer { jsStreamInfo_Destroy(info) }
        return info.pointee.State.LastSeq
    }

    // MARK: Reads

    /// A message read back from a stream, copied out of libnats.
    public struct StoredMessage: Sendable {
        public var subject: String
        /// The stream sequence.
        public var sequence: UInt64
        public var payload: [UInt8]
    }

    /// Direct get (`$JS.API.DIRECT.GET`): the message at `sequence`, or with `nextBySubject` the first message at
    /// or after `sequence` on that subject (wildcards allowed).
    /// - Returns: the message, or `nil` when there is none.
    /// - Throws: ``NATSError`` (`timeout`, `connectionClosed`, …).
    public func directGet(
        stream: String, sequence: UInt64, nextBySubject: String? = nil
    ) throws(NATSError)
        -> StoredMessage?
    {
        var options = jsDirectGetMsgOptions()
        jsDirectGetMsgOptions_Init(&options)
        options.Sequence = sequence
        guard let nextBySubject else { return try directGet(stream: stream, options: &options).get() }
        return try nextBySubject.withCString { subject in
            options.NextBySubject = subject
            return directGet(stream: stream, options: &options)
        }.get()
    }

    /// Direct get of the last message on `subject`.
    /// - Returns: the message, or `nil` when the subject has none.
    /// - Throws: ``NATSError`` (`timeout`, `connectionClosed`, …).
    public func directGetLast(stream: String, subject: String) throws(NATSError) -> StoredMessage? {
        var options = jsDirectGetMsgOptions()
        jsDirectGetMsgOptions_Init(&options)
        return try subject.withCString { subject in
            options.LastBySubject = subject
            return directGet(stream: stream, options: &options)
        }.get()
    }

    private func directGet(stream: String, options: inout jsDirectGetMsgOptions) -> Result<StoredMessage?, NATSError> {
        var message: OpaquePointer?
        let status = LibNATS.directGet(&message, handle, stream: stream, options: &options)
        if status == .notFound { return .success(nil) }
        guard status == .ok, let message else {
            return .failure(NATSError(status: status, operation: "js_DirectGetMsg"))
        }
        defer { natsMsg_Destroy(message) }
        return .success(StoredMessage(message, sequence: natsMsg_GetSequence(message)))
    }

    /// Reads the messages of `stream` on `subject` (wildcards allowed) from `startSequence` through an ordered push
    /// consumer, until `body` returns false or the consumer has no message pending.
    ///
    /// Call it only when at least one message is known to match (otherwise it waits `timeout` for the first).
    /// - Parameters:
    ///   - stream: the stream.
    ///   - subject: the filter subject.
    ///   - startSequence: the first stream sequence to deliver (at least 1).
    ///   - timeout: the longest wait for any one message.
    ///   - body: gets each message in stream order; returns whether to go on.
    /// - Throws: ``NATSError`` (`timeout` when a message does not arrive in time).
    public func readOrdered(
        stream: String, subject: String, startSequence: UInt64, timeout: Duration,
        _ body: (StoredMessage) -> Bool
    ) throws(NATSError) {
        var options = jsSubOptions()
        jsSubOptions_Init(&options)
        options.Ordered = true
        options.Config.DeliverPolicy = js_DeliverByStartSequence
        options.Config.OptStartSeq = max(1, startSequence)
        var errorCode = jsErrCode(0)
        var subscription: OpaquePointer?
        let status = stream.withCString { (name) -> NATSStatus in
            options.Stream = name
            return LibNATS.subscribeSync(
                &subscription, handle, subject: subject, options: &options, errorCode: &errorCode)
        }
        guard status == .ok, let subscription else {
            throw NATSError(status: status, operation: "js_SubscribeSync", jetStreamCode: errorCode)
        }
        defer {
            natsSubscription_Unsubscribe(subscription)
            natsSubscription_Destroy(subscription)
        }
        _ = LibNATS.setPendingLimits(subscription, messages: -1, bytes: -1)
        let milliseconds = max(1, timeout.natsMilliseconds)
        while true {
            var message: OpaquePointer?
            try LibNATS.nextMessage(&message, subscription, timeoutMilliseconds: milliseconds).check(
                "natsSubscription_NextMsg")
            guard let message else { return }
            defer { natsMsg_Destroy(message) }
            var metadata: UnsafeMutablePointer<jsMsgMetaData>?
            try LibNATS.metadata(&metadata, message).check("natsMsg_GetMetaData")
            guard let metadata else { return }
            let sequence = metadata.pointee.Sequence.Stream
            let pending = metadata.pointee.NumPending
            jsMsgMetaData_Destroy(metadata)
            guard body(StoredMessage(message, sequence: sequence)), pending > 0 else { return }
        }
    }
}

extension JetStreamContext.StoredMessage {
    /// Copies subject and payload out of a libnats message.
    init(_ message: OpaquePointer, sequence: UInt64) {
        self.subject = String(cString: natsMsg_GetSubject(message))
        self.sequence = sequence
        let count = Int(natsMsg_GetDataLength(message))
        if count > 0, let data = natsMsg_GetData(message) {
            self.payload = [UInt8](UnsafeRawBufferPointer(start: data, count: count))
        } else {
            self.payload = []
        }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64`, for libnats' nanosecond fields.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : product + attoseconds / 1_000_000_000
    }
}
