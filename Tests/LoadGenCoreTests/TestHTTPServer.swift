import NIOCore
import NIOPosix
import Synchronization

/// A small real HTTP/1.1 server on 127.0.0.1 for the loadgen tests, with scriptable behaviour.
final class TestHTTPServer: Sendable {
    /// A parsed request.
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// What to do with a request.
    enum Reply: Sendable {
        /// Answer with status and body, optionally not before `notBefore`.
        case respond(status: Int, body: String, notBefore: NIODeadline? = nil, chunked: Bool = false)
        /// Send bytes that are not HTTP.
        case garbage
        /// Never answer.
        case silence
    }

    let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// Starts a server.
    /// - Parameter behaviour: decides the reply for each request (called on an event loop).
    /// - Parameter closeAfter: close each connection silently after this many responses (0 = never), the way
    ///   servers drop idle keep-alive connections.
    init(threads: Int = 1, closeAfter: Int = 0, behaviour: @escaping @Sendable (Request) -> Reply) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let counter = ManagedCounter()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ServerHandler(behaviour: behaviour, counter: counter, closeAfter: closeAfter))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
        self.counterBox = counter
    }

    private let counterBox: ManagedCounter

    /// Requests handled so far.
    var handled: Int { counterBox.value.load(ordering: .relaxed) }

    /// `http://127.0.0.1:PORT` + `path`.
    func url(_ path: String = "/") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Stops the server.
    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }
}

final class ManagedCounter: Sendable {
    let value = Atomic<Int>(0)
}

private final class ServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let behaviour: @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Reply
    private let counter: ManagedCounter
    private var buffer = ByteBuffer()
    private let closeAfter: Int
    private var answered = 0

    init(
        behaviour: @escaping @Sendable (TestHTTPServer.Request) -> TestHTTPServer.Reply, counter: ManagedCounter,
        closeAfter: Int
    ) {
        self.behaviour = behaviour
        self.counter = counter
        self.closeAfter = closeAfter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while let request = nextRequest() {
            if closeAfter > 0 && answered == closeAfter {
                // Drop the connection without answering, as a server closing an idle connection would.
                context.close(promise: nil)
                return
            }
            answered += 1
            counter.value.wrappingAdd(1, ordering: .relaxed)
            switch behaviour(request) {
            case .respond(let status, let body, let notBefore, let chunked):
                var out = context.channel.allocator.buffer(capacity: 128 + body.utf8.count)
                out.writeString("HTTP/1.1 \(status) X\r\nContent-Type: text/plain\r\n")
                if chunked {
                    out.writeString("Transfer-Encoding: chunked\r\n\r\n")
                    if !body.isEmpty {
                        out.writeString(String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n")
                    }
                    out.writeString("0\r\n\r\n")
                } else {
                    out.writeString("Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
                }
                if let notBefore, notBefore > .now() {
                    let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                    let bytes = out
                    context.eventLoop.scheduleTask(deadline: notBefore) {
                        loopBoundContext.value.writeAndFlush(NIOAny(bytes), promise: nil)
                    }
                } else {
                    context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                }
            case .garbage:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "SSH-2.0-nope\r\n\r\n")), promise: nil)
            case .silence:
                break
            }
        }
    }

    /// Takes one complete request off the buffer, if there is one.
    private func nextRequest() -> TestHTTPServer.Request? {
        let view = buffer.readableBytesView
        guard let headEnd = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let headText = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst().split(separator: " ")
        var headers: [(String, String)] = []
        var length = 0
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " ")
            headers.append((name, value))
            if name.lowercased() == "content-length" { length = Int(value) ?? 0 }
        }
        let headBytes = headEnd.upperBound - view.startIndex
        guard buffer.readableBytes >= headBytes + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headBytes)
        let body = buffer.readBytes(length: length) ?? []
        buffer.discardReadBytes()
        return TestHTTPServer.Request(
            method: requestLine.first.map(String.init) ?? "",
            target: requestLine.count > 1 ? String(requestLine[1]) : "",
            headers: headers, body: body)
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(self.drop(while: { $0 == character }).reversed().drop(while: { $0 == character }).reversed())
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(self).trimmingCharacters(in: character)
    }
}
