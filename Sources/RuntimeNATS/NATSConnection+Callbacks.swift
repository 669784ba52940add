import CNATS

/// The connection-event closures libnats reaches through its `void *closure` argument.
final class ConnectionEvents: Sendable {
    let onDisconnected: (@Sendable () -> Void)?
    let onReconnected: (@Sendable () -> Void)?
    let onClosed: (@Sendable () -> Void)?

    init(_ options: NATSConnection.Options) {
        self.onDisconnected = options.onDisconnected
        self.onReconnected = options.onReconnected
        self.onClosed = options.onClosed
    }
}

// C callbacks: top-level functions that capture nothing (a closure literal could be inferred main-actor isolated
// and would crash when libnats calls it from its own thread).

func natsConnectionDisconnectedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<ConnectionEvents>.fromOpaque(closure).takeUnretainedValue().onDisconnected?()
}

func natsConnectionReconnectedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    Unmanaged<ConnectionEvents>.fromOpaque(closure).takeUnretainedValue().onReconnected?()
}

/// The last callback libnats makes for a connection: runs `onClosed` and releases the retained box.
func natsConnectionClosedCallback(_ connection: OpaquePointer?, _ closure: UnsafeMutableRawPointer?) {
    guard let closure else { return }
    let events = Unmanaged<ConnectionEvents>.fromOpaque(closure).takeRetainedValue()
    events.onClosed?()
}
