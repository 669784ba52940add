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
