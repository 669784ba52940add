import ClstrRuntime

#if canImport(Glibc)
    import Glibc
#endif

// Usage: actor-latency-probe inline|threads <iterations> [rounds]
// Prints one line per round: "<mode> <ns per request→reply>".

struct Bump: ActorMessage {
    typealias Reply = Int
    var amount: Int
}

func bumpBehavior() -> ActorBehavior<Int> {
    var behavior = ActorBehavior<Int>()
    behavior.on(Bump.self) { value, message in
        value &+= message.amount
        return value
    }
    return behavior
}

func nanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The measured loop, as in the benchmark: a request, then a blocking wait for its reply.
@inline(never)
func requestReply(_ actor: ActorRef<Int>, _ slot: ReplySlot, iterations: Int) -> Int {
    var sum = 0
    for _ in 0..<iterations {
        actor.request(Bump(amount: 1), replyTo: slot)
        sum &+= Int(truncatingIfNeeded: slot.wait().context)
    }
    return sum
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let iterations = Int(arguments[2]), ["inline", "threads"].contains(arguments[1]) else {
    print("usage: actor-latency-probe inline|threads <iterations> [rounds]")
    exit(2)
}
let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 1 : 1
let mode = arguments[1]
let pool = mode == "threads" ? WorkerPool(threadCount: 1) : nil
let actor: ActorRef<Int> =
    if let pool {
        ActorRef(state: 0, behavior: bumpBehavior(), executor: pool)
    } else {
        ActorRef(state: 0, behavior: bumpBehavior(), executor: InlineExecutor())
    }
let slot = ReplySlot()
_ = requestReply(actor, slot, iterations: min(iterations, 1_000))  // warm-up
for _ in 0..<rounds {
    let start = nanoseconds()
    let sum = requestReply(actor, slot, iterations: iterations)
    let elapsed = nanoseconds() - start
    print("\(mode) \(Double(elapsed) / Double(iterations)) \(sum)")
}
pool?.shutdown()
