import CNATS
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to a NATS server, owning its `natsConnection*` and `natsOptions*`.
///
/// ``close()`` closes the connection once (later calls do nothing); the C objects are destroyed when the last
/// reference goes away, so a thread that still holds the connection while another closes it gets a
/// `NATS_CONNECTION_CLOSED` status, never a dangling pointer.
public final class NATSConnection: @unchecked Sendable {
    // @unchecked Sendable: `handle` and `options` are immutable pointers to libnats objects that are thread-safe
    // for every call made through this class (publish, subscribe, flush, close); they are destroyed only in
    // deinit, when no other reference can exist. `isClosed` is atomic.

    /// The `natsConnection*`.
    let handle: OpaquePointer
    private let options: OpaquePointer
    private let isClosed = Atomic<Bool>(false)
    /// The `natsStatistics*` that ``reconnects`` reads into (nil if libnats could not make one).
    private let statistics: Mutex<OpaquePointer?>

    /// The options the connection was made with.
    public let configuration: Options

    /// Connects to one of `options.urls`.
    /// - Parameter options: servers, credentials, TLS, reconnect and callbacks.
    /// - Throws: ``NATSError`` when the options are invalid or no server can be reached.
    public init(options configuration: Options) throws(NATSError) {
        var rawOptions: OpaquePointer?
        LibNATS.open()
        try NATSStatus(natsOptions_Create(&rawOptions)).check("natsOptions_Create")
        guard let rawOptions else { throw NATSError(status: .noMemory, operation: "natsOptions_Create") }
        do throws(NATSError) {
            try Self.apply(configuration, to: rawOptions)
        } catch {
            natsOptions_Destroy(rawOptions)
            throw error
        }

        // The event callbacks get a retained box; libnats calls the closed callback last (after any disconnected
        // callback, on its single callback thread), and that callback releases the box.
        let events = Unmanaged.passRetained(ConnectionEvents(configuration))
        natsOptions_SetDisconnectedCB(rawOptions, natsConnectionDisconnectedCallback, events.toOpaque())
        natsOptions_SetReconnectedCB(rawOptions, natsConnectionReconnectedCallback, events.toOpaque())
        natsOptions_SetClosedCB(rawOptions, natsConnectionClosedCallback, events.toOpaque())

        var connection: OpaquePointer?
        let status = NATSStatus(natsConnection_Connect(&connection, rawOptions))
        guard status == .ok, let connection else {
            let error = NATSError(status: status, operation: "natsConnection_Connect")
            natsOptions_Destroy(rawOptions)
            // The box is deliberately leaked (a few dozen bytes): whether libnats still posts a closed callback
            // for a connection that never came up is not documented, and a release here could then be a second.
            throw error
        }
        self.handle = connection
        self.options = rawOptions
        self.configuration = configuration
        var statistics: OpaquePointer?
        if natsStatistics_Create(&statistics) != NATS_OK { statistics = nil }
        self.statistics = Mutex(statistics)
    }

    private static func apply(_ configuration: Options, to options: OpaquePointer) throws(NATSError) {
        guard !configuration.urls.isEmpty else {
            throw NATSError(status: .addressMissing, operation: "natsOptions_SetServers")
        }
        var cURLs = configuration.urls.map { strdup($0) }
        defer { cURLs.forEach { free($0) } }
        let serversStatus = cURLs.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                NATSStatus(natsOptions_SetServers(options, $0, Int32(buffer.count)))
            }
        }
        try serversStatus.check("natsOptions_SetServers")
        if configuration.user != nil || configuration.password != nil {
            try NATSStatus(natsOptions_SetUserInfo(options, configuration.user, configuration.password))
                .check("natsOptions_SetUserInfo")
        }
        if let token = configuration.token {
            try NATSStatus(natsOptions_SetToken(options, token)).check("natsOptions_SetToken")
        }
        if let name = configuration.name {
            try NATSStatus(natsOptions_SetName(options, name)).check("natsOptions_SetName")
        }
        if configuration.usesTLS {
            try NATSStatus(natsOptions_SetSecure(options, true)).check("natsOptions_SetSecure")
            let caFile = configuration.trustedCertificatesFile ?? Self.systemCertificateBundle
            if let caFile {
                try NATSStatus(natsOptions_LoadCATrustedCertificates(options, caFile))
                    .check("natsOptions_LoadCATrustedCertificates")
            }
        }
        try NATSStatus(natsOptions_SetTimeout(options, configuration.connectTimeout.natsMilliseconds))
            .check("natsOptions_SetTimeout")
        try NATSStatus(natsOptions_SetAllowReconnect(options, configuration.allowReconnect))
            .check("natsOptions_SetAllowReconnect")
        try NATSStatus(natsOptions_SetMaxReconnect(options, Int32(clamping: configuration.maxReconnectAttempts)))
            .check("natsOptions_SetMaxReconnect")
        try NATSStatus(natsOptions_SetReconnectWait(options, configuration.reconnectWait.natsMilliseconds))
            .check("natsOptions_SetReconnectWait")
        try NATSStatus(natsOptions_SetPingInterval(options, max(1, configuration.pingInterval.natsMilliseconds)))
            .check("natsOptions_SetPingInterval")
        try NATSStatus(natsOptions_SetMaxPingsOut(options, Int32(clamping: configuration.maxPingsOutstanding)))
            .check("natsOptions_SetMaxPingsOut")
        try NATSStatus(natsOptions_SetSendAsap(options, configuration.sendAsap)).check("natsOptions_SetSendAsap")
        if configuration.sharedMessageDelivery {
            try NATSStatus(natsOptions_UseGlobalMessageDelivery(options, true)).check(
                "natsOptions_UseGlobalMessageDelivery")
        }
    }

    /// Debian's CA bundle, when it exists.
    private static var systemCertificateBundle: String? {
        let path = "/etc/ssl/certs/ca-certificates.crt"
        return access(path, R_OK) == 0 ? path : nil
    }

    /// How many times libnats has reconnected this connection (its statistics; 0 until the first reconnect).
    /// What was learnt from the server before a reconnect may not hold after it (a restarted server may have lost
    /// its data): compare this count to tell.
    public var reconnects: UInt64 {
        // One statistics object per connection, reused under a lock (read twice per JetStream append that keeps
        // recent commits: no allocation each time).
        statistics.withLock { statistics in
            guard let statistics, natsConnection_GetStats(handle, statistics) == NATS_OK else { return UInt64.max }
            var count: UInt64 = 0
            natsStatistics_GetCounts(statistics, nil, nil, nil, nil, &count)
            return count
        }
    }

    /// Whether the connection is currently connected (not reconnecting, not closed).
    public var isConnected: Bool { natsConnection_Status(handle) == NATS_CONN_STATUS_CONNECTED }

    /// Publishes `bytes` to `subject`.
    /// - Throws: ``NATSError`` (for example `connectionClosed`, or `insufficientBuffer` during a long outage).
    public func publish(subject: String, bytes: [UInt8], reply: String? = nil) throws(NATSError) {
        let status = bytes.withUnsafeBytes { buffer in
            if let reply {
                return LibNATS.publishRequest(handle, subject: subject, reply: reply, bytes: buffer)
            }
            return LibNATS.publish(handle, subject: subject, bytes: buffer)
        }
        try status.check("natsConnection_Publish")
    }

    /// Sends a PING and waits for the PONG: everything published before has reached the server.
    /// - Throws: ``NATSError`` (`timeout`, `connectionClosed`, …).
    public func flush(timeout: Duration = .seconds(2)) throws(NATSError) {
        try LibNATS.flush(handle, timeoutMilliseconds: max(1, timeout.natsMilliseconds)).check(
            "natsConnection_FlushTimeout")
    }

    /// Closes the connection (pending subscriptions end, their completion callbacks run); idempotent.
    public func close() {
        // Acquiring-and-releasing: the flag guards no other data; any ordering that makes one caller win suffices.
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        natsConnection_Close(handle)
    }

    deinit {
        close()
        natsConnection_Destroy(handle)
        natsOptions_Destroy(options)
        statistics.withLock { natsStatistics_Destroy($0) }
    }
}
