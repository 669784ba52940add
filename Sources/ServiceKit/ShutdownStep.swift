import ServiceLifecycle

/// A lifecycle service that waits for graceful shutdown, then runs one teardown step.
///
/// A service (counter-service, accounting) starts its parts in order before the ``ServiceGroup`` runs (so their ports can be logged and
/// failures reported at once); the group then shuts them down in reverse order of its service list: HTTP front
/// (stop accepting, finish in-flight requests), metrics, nodes, NATS connections, the nats-server child.
public struct ShutdownStep: Service {
    public let name: String
    /// Runs when the group starts the step (after the group installed its signal handlers).
    public var announce: @Sendable () -> Void = {}
    public let teardown: @Sendable () async -> Void

    public init(
        name: String, announce: @escaping @Sendable () -> Void = {}, teardown: @escaping @Sendable () async -> Void
    ) {
        self.name = name
        self.announce = announce
        self.teardown = teardown
    }

    public func run() async throws {
        announce()
        try? await gracefulShutdown()
        await teardown()
    }
}
