import CNATS

/// Layer 1 of the libnats wrapper: the C calls this target makes, each returning a ``NATSStatus``.
///
/// Nothing here owns memory or throws; ``NATSConnection`` and ``NATSSubscription`` (layer 3) own the C objects and
/// turn statuses into errors with ``NATSStatus/check(_:)`` (layer 2).
enum LibNATS {
    /// Opens the library once, before anything else of it runs: with its mutexes' spinning off.
    ///
    /// libnats otherwise spins up to 2,000 `pause` instructions on a held mutex (`nats_Open`'s default) before it
    /// sleeps. Its connection and subscription mutexes are held by one thread while another wants them all the time
    /// here (the reader, the delivery threads and the loops that publish), and on a machine with fewer cores than
    /// busy threads the spinning thread only delays the holder: perf showed `natsMutex_Lock` and its
    /// `pthread_mutex_trylock` at ~5 % of a JetStream-backed service's CPU. glibc's mutex then sleeps on a futex
    /// at once.
    static func open() { _ = opened }

    private static let opened: Void = {
        // Fails only when out of memory (or after nats_Close, which this target never calls); a later call into
        // the library then opens it with the default spinning.
        _ = nats_Open(0)
    }()

    static func publish(
        _ connection: OpaquePointer, subject: UnsafePointer<CChar>, bytes: UnsafeRawBufferPointer
    ) -> NATSStatus {
        NATSStatus(
            natsConnection_Publish(connection, subject, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count)))
    }

    static func publishRequest(
        _ connection: OpaquePointer, subject: UnsafePointer<CChar>, reply: UnsafePointer<CChar>,
        bytes: UnsafeRawBufferPointer
    ) -> NATSStatus {
        NATSStatus(
            natsConnection_PublishRequest(
                connection, subject, reply, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count)))
    }

    static func subscribe(
        _ subscription: inout OpaquePointer?, _ connection: OpaquePointer, subject: String,
        callback: natsMsgHandler, closure: UnsafeMutableRawPointer
    ) -> NATSStatus {
        NATSStatus(natsConnection_Subscribe(&subscription, connection, subject, callback, closure))
    }

    static func setPendingLimits(_ subscription: OpaquePointer, messages: Int32, bytes: Int32) -> NATSStatus {
        NATSStatus(natsSubscription_SetPendingLimits(subscription, messages, bytes))
    }

    static func setOnComplete(
        _ subscription: OpaquePointer, callback: natsOnCompleteCB, closure: UnsafeMutableRawPointer
    ) -> NATSStatus {
        NATSStatus(natsSubscription_SetOnCompleteCB(subscription, callback, closure))
    }

    static func unsubscribe(_ subscription: OpaquePointer) -> NATSStatus {
        NATSStatus(natsSubscription_Unsubscribe(subscription))
    }

    static func flush(_ connection: OpaquePointer, timeoutMilliseconds: Int64) -> NATSStatus {
        NATSStatus(natsConnection_FlushTimeout(connection, timeoutMilliseconds))
    }

    static func createInbox() -> String {
        open()
        var inbox: UnsafeMutablePointer<natsInbox>?
        guard natsInbox_Create(&inbox) == NATS_OK, let inbox else {
            // natsInbox_Create only fails when out of memory.
            fatalError("natsInbox_Create failed")
        }
        defer { natsInbox_Destroy(inbox) }
        return String(cString: inbox)
    }
}
