import ClstrRuntime
import HTTPFront
import Logging
import NIOCore
import NIOPosix

/// The loops that serve HTTP and run actor turns: SwiftNIO's or the epoll engine's.
public enum ServiceLoops: Sendable {
    case nio(MultiThreadedEventLoopGroup)
    case epoll(EpollLoopGroup)

    public init(engine: HTTPEngineKind, threads: Int) {
        switch engine {
        case .nio: self = .nio(MultiThreadedEventLoopGroup(numberOfThreads: threads))
        case .epoll: self = .epoll(EpollLoopGroup(threads: threads))
        }
    }

    /// Actor turns on the loops (shard-per-core).
    public var executor: any ActorExecutor {
        switch self {
        case .nio(let group): EventLoopExecutor(group: group)
        case .epoll(let group): group
        }
    }

    /// An HTTP server of `service` on these loops.
    public func server(
        configuration: HTTPServerConfiguration, service: any HTTPService, logger: Logger
    ) -> any HTTPServing {
        switch self {
        case .nio(let group):
            HTTPServer(configuration: configuration, service: service, group: group, logger: logger)
        case .epoll(let group):
            EpollHTTPServer(configuration: configuration, service: service, loops: group, logger: logger)
        }
    }

    public func shutdown() async {
        switch self {
        case .nio(let group): try? await group.shutdownGracefully()
        case .epoll(let group): group.shutdown()
        }
    }
}
