import Logging

extension NATSTransport {
    /// Where the transport connects and how it behaves; every field has a default.
    public struct Configuration: Sendable {
        /// Server URLs (`nats://…`, `tls://…` turns TLS on); the client fails over between them.
        public var urls: [String]
        /// Subjects are `<subjectPrefix>.shard.<id>`; nodes and clients of one cluster share it.
        public var subjectPrefix: String
        /// Credentials, when the server requires them.
        public var user: String?
        public var password: String?
        public var token: String?
        /// TLS: `nil` decides from the URLs; ``trustedCertificatesFile`` `nil` uses the system CA bundle.
        public var secure: Bool?
        public var trustedCertificatesFile: String?
        /// The connection name shown by the server (`-requests` and `-serving` are appended).
        public var name: String
        /// Pause between reconnect attempts (the transport reconnects forever).
        public var reconnectWait: Duration
        /// Ping interval and unanswered pings before an outage is declared (silent outages; a TCP reset is
        /// noticed at once).
        public var pingInterval: Duration
        public var maxPingsOutstanding: Int
        /// Send every publish at once (`natsOptions_SetSendAsap`) on the request and the serving connection:
        /// about 4–5× lower round-trip latency here, lower bulk throughput.
        public var sendAsap: Bool
        /// Deliver the inbox's and every served subject's messages on libnats' shared delivery thread instead of a
        /// thread per subscription (a node serves a subject per shard plus its node subject): fewer threads to wake
        /// per turn. Off by default: one thread then serves every such transport in the process, and a slow handler
        /// anywhere delays them all. Measured over `--nats-server auto` (shared machine, within noise): spread
        /// 21.5–27.4 µs CPU per request against 25.3–33.1 µs, hot key unchanged (14.3–16.9 µs).
        public var sharedMessageDelivery: Bool
        /// Most requests this transport has in flight at once (its pending table); beyond that a request fails
        /// with `mailboxFull` at once.
        public var maxInFlightRequests: Int
        /// Most served requests awaiting their handler's reply at once.
        public var maxInFlightServed: Int
        /// How often expired requests are failed with `deadlineExceeded` (the deadline's resolution).
        public var sweepInterval: Duration
        /// Coalesce requests leaving one event-loop turn for one shard into one NATS message (and a node's replies
        /// to one requester during its turn): see ``TurnBoundary``. Off: one message per request and reply.
        /// A transport always serves batches, whatever this says.
        public var batching: Bool
        /// A batch goes out before its turn ends once it holds this many bytes or requests.
        public var maxBatchBytes: Int
        /// The node owning each shard (from the cluster's ``ShardMap``): batches then go to the owner's subject
        /// `<prefix>.node.<id>`, one message per node per turn (bigger batches than per shard when keys spread).
        /// Empty (the default): batches go to the shard subjects.
        public var shardOwners: [String]
        public var maxBatchCount: Int
        /// Deadline for a request that carries none (``ClusterRequest/deadline`` 0).
        public var defaultTimeout: Duration
        /// Receives connection events (info) and dropped replies (debug).
        public var logger: Logger

        /// A configuration for `urls` with defaults: prefix `clstr`, send-asap on both connections,
        /// reconnect every 250 ms forever, 1 s pings, 5 ms deadline sweep, batching on
        /// (32 KiB or 256 requests per batch at most).
        /// - Parameters:
        ///   - urls: the NATS servers.
        ///   - subjectPrefix: the subject prefix shared by the cluster.
        ///   - logger: the logger.
        public init(
            urls: [String] = ["nats://127.0.0.1:4222"], subjectPrefix: String = "clstr",
            logger: Logger = Logger(label: "clstr.nats")
        ) {
            self.urls = urls
            self.subjectPrefix = subjectPrefix
            self.name = "clstr"
            self.reconnectWait = .milliseconds(250)
            self.pingInterval = .seconds(1)
            self.maxPingsOutstanding = 2
            self.sendAsap = true
            self.sharedMessageDelivery = false
            self.maxInFlightRequests = 16_384
            self.maxInFlightServed = 16_384
            self.sweepInterval = .milliseconds(5)
            self.batching = true
            self.maxBatchBytes = 32 * 1_024
            self.maxBatchCount = 256
            self.shardOwners = []
            self.defaultTimeout = .seconds(5)
            self.logger = logger
        }

        /// The options of one of the transport's two connections.
        func connectionOptions(role: String) -> NATSConnection.Options {
            var options = NATSConnection.Options(urls: urls)
            options.user = user
            options.password = password
            options.token = token
            options.secure = secure
            options.trustedCertificatesFile = trustedCertificatesFile
            options.name = "\(name)-\(role)"
            options.reconnectWait = reconnectWait
            options.pingInterval = pingInterval
            options.maxPingsOutstanding = maxPingsOutstanding
            options.sendAsap = sendAsap
            options.sharedMessageDelivery = sharedMessageDelivery
            return options
        }
    }
}
