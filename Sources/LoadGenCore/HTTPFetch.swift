import NIOCore
import NIOPosix

/// One-off HTTP/1.1 GET used around a run (metrics scrape, counter reads); not on the load path.
public enum HTTPFetch {
    /// A fetched response.
    public struct Response: Sendable {
        /// Status code.
        public var status: Int
        /// Body bytes.
        public var body: [UInt8]
        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Why a fetch failed.
    public struct FetchError: Error, CustomStringConvertible {
        /// Human-readable reason.
        public let description: String
    }

    /// GETs `url` on a fresh connection.
    /// - Parameters:
    ///   - url: the URL.
    ///   - timeoutSeconds: limit for the whole exchange.
    /// - Returns: status and body.
    /// - Throws: ``FetchError`` when the connection or the response fails.
    public static func get(_ url: TargetURL, timeoutSeconds: Double = 10) async throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let request =
            "GET \(url.pathAndQuery) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: loadgen/\(LoadGenVersion.string)\r\n"
            + "Accept: */*\r\nConnection: close\r\n\r\n"
        let promise = loop.makePromise(of: Response.self)
        let target = "\(url.host):\(url.port)"
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(timeoutSeconds * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FetchHandler(request: request, promise: promise))
                }
            }
        bootstrap.connect(host: url.host, port: url.port).whenFailure { error in
            promise.fail(
                FetchError(
                    description: "GET \(url): " + ErrorText.describe(error, dialTarget: target, connecting: true)))
        }
        let timeout = loop.scheduleTask(in: .milliseconds(Int64(timeoutSeconds * 1000))) {
            promise.fail(FetchError(description: "GET \(url): timeout after \(timeoutSeconds) s"))
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }
}

/// Sends one request and collects the response for ``HTTPFetch``.
private final class FetchHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let promise: EventLoopPromise<HTTPFetch.Response>
    private var parser = ResponseParser(captureBody: true)
    private var done = false

    init(request: String, promise: EventLoopPromise<HTTPFetch.Response>) {
        self.request = request
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        parser.reset(isHead: false)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch parser.feed(unwrapInboundIn(data)) {
        case .needMore:
            break
        case .complete:
            finish(context: context)
        case .malformed(let message):
            done = true
            promise.fail(HTTPFetch.FetchError(description: message))
            context.close(promise: nil)
        }
    }

    private func finish(context: ChannelHandlerContext) {
        done = true
        promise.succeed(HTTPFetch.Response(status: parser.status, body: parser.body))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard !done else { return }
        if parser.finishOnClose() == .complete {
            finish(context: context)
        } else {
            done = true
            promise.fail(HTTPFetch.FetchError(description: "EOF before the response was complete"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(HTTPFetch.FetchError(description: "\(error)"))
        }
        context.close(promise: nil)
    }
}
