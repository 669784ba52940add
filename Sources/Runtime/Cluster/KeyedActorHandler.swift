/// The standard node handler: one actor per key (an ``ActorRegistry``), the request's key picking the actor.
///
/// A typed payload (in-process) goes to the actor as it is; an encoded payload (from another process) is decoded
/// first, by the ``ClusterMessage`` type registered for its message type. The actor's reply goes back typed; a
/// transport that crosses a process encodes it (it is a ``WireCodable``). Every request is answered:
/// - empty key → `badRequest`;
/// - encoded payload of an unregistered message type → `noHandler`; undecodable bytes → `codec`;
/// - a message the actor has no handler for → `noHandler` (from the actor);
/// - the actor's own errors (`stopped`, `mailboxFull`, `deadlineExceeded`, its handler's error) as they are.
public final class KeyedActorHandler<State>: ShardRequestHandler {
    /// The actors, one per key.
    public let registry: ActorRegistry<String, State>
    /// The registered message types and their decoders, looked up by a scan: a service registers a handful, and
    /// comparing a few short names costs less than hashing one (SipHash over the name, then a compare). Names
    /// compare by their UTF-8 bytes (wire names are ASCII identifiers; no Unicode equivalence).
    @usableFromInline
    let decoders = SnapshotCell([(messageType: String, decoder: any MessageDecoding)]())

    /// Creates the handler over `registry`.
    /// - Parameter registry: the actors (their factory decides each key's state and behavior).
    public init(registry: ActorRegistry<String, State>) {
        self.registry = registry
    }

    /// Registers `type` so that encoded payloads of `M.messageType` can be decoded. Register every message type a
    /// remote client may send, before the node starts.
    /// - Parameter type: the message type.
    public func register<M: ClusterMessage>(_ type: M.Type) {
        decoders.update { current -> ([(messageType: String, decoder: any MessageDecoding)], Void) in
            var next = current.filter { $0.messageType != M.messageType }
            next.append((M.messageType, MessageDecoder<M>()))
            return (next, ())
        }
    }

    /// The message types whose encoded payloads can be decoded.
    public var registeredMessageTypes: [String] { decoders.load().map(\.messageType).sorted() }

    // Inlinable: a service that wraps this handler in its own concrete `ShardRequestHandler` (as counter-service
    // does) gets the in-process path (`.value`) and the registry's routing specialized for its `State`.
    @inlinable
    public func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        if request.key.isEmpty {
            return replyTo.deliver(
                .failure(RequestError(.badRequest, "request for \(request.messageType) without a key")),
                context: context)
        }
        switch request.payload {
        case .value(let message):
            registry.requestUntyped(
                message, to: request.key, replyTo: replyTo, context: context, deadline: request.deadline)
        case .bytes(let bytes):
            handleEncoded(request, bytes: bytes, replyTo: replyTo, context: context)
        }
    }

    /// Decodes a request that came over the wire by its registered message type, then routes it.
    // Inlinable like `handle`: not specialized, the registry's routing looked up the generic metadata of its
    // stripes and actor references for every request from another process (~1,300 instructions in callgrind).
    @inlinable
    func handleEncoded(_ request: ClusterRequest, bytes: [UInt8], replyTo: any ReplyHandler, context: UInt64) {
        let count = request.messageType.utf8.count
        var found: (any MessageDecoding)?
        for entry in decoders.load()
        where entry.messageType.utf8.count == count && entry.messageType.utf8.elementsEqual(request.messageType.utf8) {
            found = entry.decoder
            break
        }
        guard let decoder = found else {
            return replyTo.deliver(
                .failure(RequestError(.noHandler, "no message type \"\(request.messageType)\" is registered")),
                context: context)
        }
        var reader = WireReader(bytes)
        let message: any Sendable
        do throws(RequestError) {
            message = try decoder.decode(from: &reader)
        } catch {
            return replyTo.deliver(
                .failure(RequestError(.codec, "\(request.messageType): \(error.message)", underlying: error)),
                context: context)
        }
        registry.requestUntyped(
            message, to: request.key, replyTo: replyTo, context: context, deadline: request.deadline)
    }
}

@usableFromInline
protocol MessageDecoding: Sendable {
    func decode(from reader: inout WireReader) throws(RequestError) -> any Sendable
}

/// The decoder of `M`.
struct MessageDecoder<M: ClusterMessage>: MessageDecoding {
    func decode(from reader: inout WireReader) throws(RequestError) -> any Sendable {
        try M(from: &reader)
    }
}
