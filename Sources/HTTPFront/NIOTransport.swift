import NIOCore
import ClstrRuntime

/// SwiftNIO's per-connection state and hooks for ``HTTPSession``.
struct NIOTransport: HTTPTransport {
    let eventLoop: any EventLoop
    /// Where replies from other threads are queued for this connection's loop (nil: one `execute` per reply).
    let inbox: ReplyInbox?
    /// Set while the handler is in the pipeline.
    var context: ChannelHandlerContext?

    init(eventLoop: any EventLoop, inbox: ReplyInbox?) {
        self.eventLoop = eventLoop
        self.inbox = inbox
    }

    static func onLoop(_ session: HTTPSession<NIOTransport>) -> Bool { session.transport.eventLoop.inEventLoop }

    static func write(
        _ session: HTTPSession<NIOTransport>, thenClose: HTTPConnectionStateMachine.CloseMode?
    )
        -> HTTPWriteResult
    {
        guard let context = session.transport.context else { return .failed }
        if thenClose != nil {
            // SwiftNIO writes the rest itself; the close waits for it (a close at once would drop it).
            context.writeAndFlush(NIOAny(session.output)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            session.output = session.empty
            return .closing
        }
        context.writeAndFlush(NIOAny(session.output), promise: nil)
        // Reuses the storage when the write completed at once (the common case); allocates otherwise.
        session.output.clear()
        return .complete
    }

    static func close(_ session: HTTPSession<NIOTransport>, _ mode: HTTPConnectionStateMachine.CloseMode) {
        // No lingering close here: SwiftNIO closes the socket (its idle task is cancelled when it is inactive).
        session.transport.context?.close(promise: nil)
    }

    static func resumeReading(_ session: HTTPSession<NIOTransport>) {
        session.transport.context?.read()
    }

    static func post(_ outcome: Outcome, context: UInt64, to session: HTTPSession<NIOTransport>) {
        if let inbox = session.transport.inbox {
            inbox.post(session, outcome: outcome, context: context)
        } else {
            session.transport.eventLoop.execute { session.complete(sequence: context, outcome: outcome) }
        }
    }
}
