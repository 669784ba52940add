import ClstrRuntime
import RuntimeMemory

#if canImport(Glibc)
    import Glibc
#endif

// actor-heap-probe <count>: spawns `count` live, idle actors the way the counter service does (registry, one
// message each, passivation off) and prints `<heap bytes per live actor> <actors spawned per second>`.
//
// It is the measured part of ActorMemoryBenchmarks' heap cases, run as a child process of the benchmark (without
// the tool's LD_PRELOAD): the benchmark executable has package-benchmark's malloc interposer (linked and preloaded), whose Linux `free` reads the 8 bytes before
// every pointer it is given. A pointer it did not allocate (Swift's `allocate(byteCount:alignment:)` and
// `UnsafeMutablePointer.allocate(capacity:)` go through `posix_memalign`, which the interposer passes through
// without its header) that starts a jemalloc mapping has an unmapped page before it, and the read faults: the
// 100,000-actor case died that way at shutdown, freeing a mailbox buffer at 0x7ffbf5300000. The interposer's
// 16-byte header on every `malloc` would also inflate the figure measured. This process links jemalloc (through
// RuntimeMemory) and nothing else, so it measures what a service holds.

struct Touch: ActorMessage {
    typealias Reply = Int
}

func touchBehavior() -> ActorBehavior<Int> {
    var behavior = ActorBehavior<Int>()
    behavior.on(Touch.self) { value, _ in
        value &+= 1
        return value
    }
    return behavior
}

/// The counter service's registry settings, with passivation off: every actor stays live.
func counterLikeOptions() -> ActorRegistryOptions {
    var options = ActorRegistryOptions()
    options.actor.mailboxCapacity = 256
    options.actor.overflow = .fail
    return options
}

guard CommandLine.arguments.count == 2, let count = Int(CommandLine.arguments[1]), count > 0 else {
    print("usage: ActorHeapProbe <actors>")
    exit(2)
}
precondition(HeapStatistics.isJemalloc, "the heap figures need jemalloc")
let behavior = touchBehavior()
let registry = ActorRegistry<Int, Int>(
    executor: InlineExecutor(), options: counterLikeOptions(), factory: { _ in (0, behavior) })
// jemalloc's allocated bytes before and after each key got one message (spawn, first mailbox buffer, registry
// entry, actor, bound behavior and state box all counted).
let before = HeapStatistics.current().allocated
let start = MonotonicClock.now()
for key in 0..<count {
    try? registry.tell(Touch(), to: key)
}
let elapsed = max(1, MonotonicClock.now() &- start)
let after = HeapStatistics.current().allocated
precondition(registry.count == count)
print("\((after - before) / count) \(Int(Double(count) * 1e9 / Double(elapsed)))")
registry.shutdown()
