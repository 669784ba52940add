import CNATS

extension NATSConnection {
    /// Sends `bytes` to `subject` and blocks the calling thread until the reply (`natsConnection_Request`).
    ///
    /// Plain libnats request/reply, for tools, tests and as the baseline the transport is measured against; it
    /// blocks a thread, so never call it from Swift concurrency's cooperative pool on a hot path.
    /// - Parameters:
    ///   - subject: the subject.
    ///   - bytes: the request payload.
    ///   - timeout: how long to wait.
    /// - Returns: the reply's payload.
    /// - Throws: ``NATSError``: `timeout`, `noResponders`, `connectionClosed`, …
    public func request(subject: String, bytes: [UInt8], timeout: Duration) throws(NATSError) -> [UInt8] {
        var reply: OpaquePointer?
        let status = bytes.withUnsafeBytes { buffer in
            NATSStatus(
                natsConnection_Request(
                    &reply, handle, subject, buffer.baseAddress, Int32(buffer.count), max(1, timeout.natsMilliseconds)))
        }
        try status.check("natsConnection_Request")
        guard let reply else { return [] }
        defer { natsMsg_Destroy(reply) }
        return Array(
            UnsafeRawBufferPointer(start: natsMsg_GetData(reply), count: Int(natsMsg_GetDataLength(reply))))
    }

    /// Like ``request(subject:bytes:timeout:)`` but discards the reply: the cheapest possible libnats round trip.
    /// - Returns: the reply's length in bytes.
    /// - Throws: ``NATSError``.
    public func requestDiscardingReply(
        subject: String, bytes: UnsafeRawBufferPointer, timeoutMilliseconds: Int64
    ) throws(NATSError) -> Int {
        var reply: OpaquePointer?
        try NATSStatus(
            natsConnection_Request(&reply, handle, subject, bytes.baseAddress, Int32(bytes.count), timeoutMilliseconds)
        ).check("natsConnection_Request")
        guard let reply else { return 0 }
        defer { natsMsg_Destroy(reply) }
        return Int(natsMsg_GetDataLength(reply))
    }

    /// Answers every request on `subject` with its own payload, straight from the libnats callback.
    ///
    /// A bare libnats responder: the baseline for the transport's benchmarks, and a liveness probe.
    /// - Parameter subject: the subject to serve.
    /// - Returns: the subscription; ``NATSEchoResponder/cancel()`` stops it.
    /// - Throws: ``NATSError`` when the subscription fails.
    public func serveEcho(subject: String) throws(NATSError) -> NATSEchoResponder {
        let responder = NATSEchoResponder()
        let subscription = try NATSSubscription(
            connection: self, subject: subject, callback: natsEchoCallback, context: responder)
        responder.subscription = subscription
        try flush()
        return responder
    }
}

/// A running echo responder (see ``NATSConnection/serveEcho(subject:)``).
public final class NATSEchoResponder: @unchecked Sendable {
    // @unchecked Sendable: `subscription` is set once, before the responder is returned to any other thread, and
    // only read afterwards.
    fileprivate var subscription: NATSSubscription?

    /// Stops answering; idempotent.
    public func cancel() { subscription?.unsubscribe() }
}

private func natsEchoCallback(
    _ connection: OpaquePointer?, _ subscription: OpaquePointer?, _ message: OpaquePointer?,
    _ closure: UnsafeMutableRawPointer?
) {
    guard let message else { return }
    if let connection, let reply = natsMsg_GetReply(message) {
        _ = natsConnection_Publish(connection, reply, natsMsg_GetData(message), natsMsg_GetDataLength(message))
    }
    natsMsg_Destroy(message)
}
