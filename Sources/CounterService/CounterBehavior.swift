import ClstrRuntime

/// The behavior of one counter actor: the state is the value; increments use checked arithmetic.
enum CounterBehavior {
    /// The handlers of a counter.
    static func make() -> ActorBehavior<Int> {
        var behavior = ActorBehavior<Int>()
        behavior.on(Increment.self) { value, message in
            guard message.amount > 0 else {
                throw CounterError(code: CounterError.invalidAmountCode, message: "amount must be a positive integer")
            }
            let (sum, overflow) = value.addingReportingOverflow(message.amount)
            if overflow {
                throw CounterError(code: CounterError.overflowCode, message: "counter value would overflow")
            }
            value = sum
            return sum
        }
        behavior.on(GetValue.self) { value, _ in value }
        return behavior
    }
}

/// The counter nodes' shard handler: ``KeyedActorHandler`` called through its concrete type, so that the compiler
/// specializes its in-process path and the registry's routing (both inlinable) for `String` keys and `Int` state
/// here. Behind the cluster's `any ShardRequestHandler` the generic code would run unspecialized, with runtime
/// metadata lookups and witness-table hashing on every request.
final class CounterShardHandler: ShardRequestHandler {
    let keyed: KeyedActorHandler<Int>

    init(_ keyed: KeyedActorHandler<Int>) {
        self.keyed = keyed
    }

    func handle(_ request: ClusterRequest, replyTo: any ReplyHandler, context: UInt64) {
        keyed.handle(request, replyTo: replyTo, context: context)
    }
}
