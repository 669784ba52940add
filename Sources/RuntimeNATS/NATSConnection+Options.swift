extension NATSConnection {
    /// How to reach and stay connected to a NATS server (or cluster).
    public struct Options: Sendable {
        /// Server URLs (`nats://host:port`, `tls://host:port`); the client picks among them and fails over.
        public var urls: [String]
        /// User name and password (`natsOptions_SetUserInfo`), when the server requires them.
        public var user: String?
        public var password: String?
        /// Authentication token (`natsOptions_SetToken`).
        public var token: String?
        /// Use TLS: `nil` decides from the URLs (any `tls://` URL turns it on).
        public var secure: Bool?
        /// PEM file with the trusted CAs for TLS; `nil` uses the system bundle
        /// (`/etc/ssl/certs/ca-certificates.crt` when present).
        public var trustedCertificatesFile: String?
        /// The connection name the server shows in its monitoring (`natsOptions_SetName`).
        public var name: String?
        /// Time to wait for the initial connection.
        public var connectTimeout: Duration
        /// Reconnect automatically after an outage.
        public var allowReconnect: Bool
        /// Reconnect attempts per server; -1 retries forever.
        public var maxReconnectAttempts: Int
        /// Pause between reconnect attempts to the same server.
        public var reconnectWait: Duration
        /// How often the client pings the server; with ``maxPingsOutstanding`` it bounds how long a silent
        /// outage (no TCP reset) goes unnoticed.
        public var pingInterval: Duration
        /// Unanswered pings after which the connection counts as lost.
        public var maxPingsOutstanding: Int
        /// Write every publish to the socket at once instead of waiting for the flusher thread
        /// (`natsOptions_SetSendAsap`): about 220 µs instead of about 1 ms per round trip here, at the cost of
        /// bulk throughput. Turn it on for latency-critical connections.
        public var sendAsap: Bool
        /// Deliver this connection's subscriptions' messages on libnats' shared delivery thread pool (one thread by
        /// default, `natsOptions_UseGlobalMessageDelivery`) instead of one thread per subscription: fewer threads to
        /// wake when many subscriptions receive at once. Callbacks must never block.
        public var sharedMessageDelivery: Bool
        /// Called (on a libnats thread) when the connection is lost.
        public var onDisconnected: (@Sendable () -> Void)?
        /// Called (on a libnats thread) when the connection is back.
        public var onReconnected: (@Sendable () -> Void)?
        /// Called (on a libnats thread) once the connection is closed for good.
        public var onClosed: (@Sendable () -> Void)?

        /// Options with reconnect-forever defaults tuned to notice an outage within about two seconds.
        /// - Parameter urls: the servers.
        public init(urls: [String] = ["nats://127.0.0.1:4222"]) {
            self.urls = urls
            self.connectTimeout = .seconds(2)
            self.allowReconnect = true
            self.maxReconnectAttempts = -1
            self.reconnectWait = .milliseconds(250)
            self.pingInterval = .seconds(1)
            self.maxPingsOutstanding = 2
            self.sendAsap = false
            self.sharedMessageDelivery = false
        }

        /// Whether TLS is on: ``secure``, or any `tls://` URL.
        var usesTLS: Bool {
            secure ?? urls.contains { $0.lowercased().hasPrefix("tls://") }
        }
    }
}

extension Duration {
    /// Whole milliseconds (rounded down, at least 0), for libnats' `int64_t` millisecond arguments.
    var natsMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
    }
}
