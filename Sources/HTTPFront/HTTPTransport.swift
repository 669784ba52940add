import ClstrRuntime

/// What an engine supplies to the sessions of its connections: how their bytes leave, how they close, how replies
/// from other threads reach their loop. The compiler checks that an engine provides every hook, and each session is
/// specialised for its engine (no dynamic dispatch).
///
/// The hooks are static functions of the session: the engine's per-connection state is `session.transport`, and a
/// hook that changes it (or the session) holds no access to it while doing so.
protocol HTTPTransport {
    /// Whether the caller runs on the session's loop.
    static func onLoop(_ session: HTTPSession<Self>) -> Bool

    /// Hands `session.output` to the peer and empties it (what the peer does not take now stays in it).
    /// - Parameters:
    ///   - session: the connection.
    ///   - thenClose: set when this output ends the connection; an engine that closes after its own writes
    ///     complete answers ``HTTPWriteResult/closing``.
    static func write(_ session: HTTPSession<Self>, thenClose: HTTPConnectionStateMachine.CloseMode?) -> HTTPWriteResult

    /// Closes the transport (the state machine already moved to `closed` or `lingering`).
    static func close(_ session: HTTPSession<Self>, _ mode: HTTPConnectionStateMachine.CloseMode)

    /// Reads again after reading was held back.
    static func resumeReading(_ session: HTTPSession<Self>)

    /// Runs ``HTTPSession/complete(sequence:outcome:)`` on the session's loop (called off the loop).
    static func post(_ outcome: Outcome, context: UInt64, to session: HTTPSession<Self>)
}

/// What became of a write.
enum HTTPWriteResult: Equatable {
    /// All of the output was taken.
    case complete
    /// Part of it waits for the transport (the engine calls ``HTTPSession/transportWritable()`` later).
    case blocked
    /// The engine closes the transport itself once the write completes.
    case closing
    /// The transport failed: close.
    case failed
}
