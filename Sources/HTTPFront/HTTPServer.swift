import Logging
import NIOCore
import NIOPosix
import ClstrRuntime
import Synchronization

/// An HTTP/1.1 server on SwiftNIO that serves one ``HTTPService`` with ``HTTPConnectionHandler``s.
///
/// ```swift
/// let server = HTTPServer(configuration: .init(port: 0), service: service, group: group, logger: logger)
/// let port = try await server.start()
/// …
/// await server.shutdown()   // stop accepting, finish in-flight requests, close
/// ```
public final class HTTPServer: Sendable {
    /// The configuration.
    public let configuration: HTTPServerConfiguration
    /// The service.
    public let service: any HTTPService
    /// Request and connection metrics.
    public let metrics: HTTPMetrics
    private let group: any EventLoopGroup
    /// The group's loops, in order: a connection's metrics shard is its loop's index.
    private let loops: [ObjectIdentifier]
    /// One reply inbox per loop (same order).
    private let inboxes: [ReplyInbox]
    private let logger: Logger
    private let state = Locked<State>(State())
    /// Set once every open connection has been asked to drain (tests wait for it).
    let drainRequested = Atomic<Bool>(false)

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var port = 0
        var stopping = false
    }

    /// Creates a server (it listens after ``start()``).
    /// - Parameters:
    ///   - configuration: address, port, limits.
    ///   - service: the application.
    ///   - group: the event loops that accept and serve connections.
    ///   - logger: for lifecycle messages.
    public init(
        configuration: HTTPServerConfiguration, service: any HTTPService, group: any EventLoopGroup, logger: Logger
    ) {
        self.configuration = configuration
        self.service = service
        var loops: [ObjectIdentifier] = []
        var inboxes: [ReplyInbox] = []
        for loop in group.makeIterator() {
            loops.append(ObjectIdentifier(loop))
            inboxes.append(ReplyInbox(loop: loop))
        }
        self.loops = loops
        self.inboxes = inboxes
        self.metrics = HTTPMetrics(routeNames: service.routeNames, shards: max(1, loops.count))
        self.group = group
        self.logger = logger
    }

    /// The bound port (after ``start()``).
    public var port: Int { state.withLock { $0.port } }

    /// Binds and starts accepting connections.
    /// - Returns: the bound port.
    /// - Throws: when the address cannot be bound.
    @discardableResult
    public func start() async throws -> Int {
        let limits = configuration.limits
        let service = self.service
        let metrics = self.metrics
        let loops = self.loops
        let inboxes = self.inboxes
        let maxConnections = configuration.maxConnections
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // The peer's end of stream is an event, not a close: the connection answers what it received first.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [weak self] channel in
                if self?.track(channel, maxConnections: maxConnections) == false {
                    // Relaxed: a counter for scrapes.
                    metrics.refusedConnections.wrappingAdd(1, ordering: .relaxed)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTPRefusalHandler())
                    }
                }
                let index = loops.firstIndex(of: ObjectIdentifier(channel.eventLoop))
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPConnectionHandler(
                            service: service, metrics: metrics, limits: limits, eventLoop: channel.eventLoop,
                            metricsShard: index ?? 0, inbox: index.map { inboxes[$0] }))
                }
            }
        let listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        let port = listener.localAddress?.port ?? configuration.port
        state.withLock {
            $0.listener = listener
            $0.port = port
        }
        return port
    }

    /// Records a new connection (closed at once while stopping).
    /// - Returns: false when ``HTTPServerConfiguration/maxConnections`` are open (the caller refuses it).
    private func track(_ channel: any Channel, maxConnections: Int) -> Bool {
        let id = ObjectIdentifier(channel)
        enum Admission { case serve, refuse, stopping }
        let admission = state.withLock { state -> Admission in
            if state.stopping { return .stopping }
            if state.connections.count >= maxConnections { return .refuse }
            state.connections[id] = channel
            return .serve
        }
        switch admission {
        case .refuse:
            return false
        case .stopping:
            channel.close(promise: nil)
        case .serve:
            channel.closeFuture.whenComplete { [weak self] _ in
                _ = self?.state.withLock { $0.connections.removeValue(forKey: id) }
            }
        }
        return true
    }

    /// Stops accepting, lets every connection finish its in-flight requests (up to the grace period), then closes
    /// what is left. Idempotent.
    public func shutdown() async {
        let (listener, connections) = state.withLock { state -> ((any Channel)?, [any Channel]) in
            state.stopping = true
            defer { state.listener = nil }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for channel in connections {
            channel.pipeline.fireUserInboundEventTriggered(HTTPConnectionHandler.Drain())
        }
        drainRequested.store(true, ordering: .sequentiallyConsistent)
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.connections.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let left = state.withLock { Array($0.connections.values) }
        if !left.isEmpty {
            logger.info("closing connections after the grace period", metadata: ["connections": "\(left.count)"])
        }
        for channel in left { try? await channel.close() }
    }
}

/// Answers a connection over ``HTTPServerConfiguration/maxConnections`` with 503 and closes it (SwiftNIO engine).
final class HTTPRefusalHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let bytes = context.channel.allocator.buffer(bytes: HTTPConnectionRefusal.bytes)
        context.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The request is not served; its bytes are dropped.
    }
}
