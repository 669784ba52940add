import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An executor with a fixed set of worker threads, one run queue (an ``MPSCRing``) per worker.
///
/// A job goes to worker `affinity % threadCount`, so an actor keeps running on the same thread. An idle worker
/// spins briefly, then parks; a producer wakes it only when it has announced that it sleeps, so a busy pool makes
/// no system call per scheduled turn.
public final class WorkerPool: ActorExecutor {
    /// The number of worker threads.
    public let threadCount: Int
    private let workers: [Worker]
    private let roundRobin = Atomic<Int>(0)

    /// Starts the worker threads.
    /// - Parameters:
    ///   - threadCount: the number of threads; defaults to one per core.
    ///   - queueCapacity: the run-queue slots per worker. Each actor occupies at most one slot at a time, so this
    ///     bounds nothing but memory; when a queue is full the producer waits for room.
    ///   - name: the threads' name prefix.
    public init(threadCount: Int = WorkerPool.coreCount, queueCapacity: Int = 16_384, name: String = "actor-worker") {
        precondition(threadCount >= 1)
        self.threadCount = threadCount
        self.workers = (0..<threadCount).map { Worker(index: $0, capacity: queueCapacity) }
        for worker in workers {
            worker.start(name: "\(name)-\(worker.index)")
        }
    }

    /// The number of online cores.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    public func execute(_ job: any ActorJob, affinity: Int) {
        let index =
            affinity >= 0
            ? affinity % threadCount : roundRobin.wrappingAdd(1, ordering: .relaxed).oldValue % threadCount
        workers[index].submit(job)
    }

    /// Whether the caller may wait for a turn: not on the worker that runs turns of `affinity` (any worker for
    /// round-robin jobs, `-1`), which would wait for itself.
    public func callerMayWait(forAffinity affinity: Int) -> Bool {
        let current = UInt(bitPattern: Int(bitPattern: pthread_self()))
        if affinity >= 0 { return !workers[affinity % threadCount].runs(on: current) }
        return !workers.contains { $0.runs(on: current) }
    }

    /// Stops the workers after they finish the turns already queued, and waits for them.
    public func shutdown() {
        for worker in workers { worker.stop() }
        for worker in workers { worker.join() }
    }

    deinit {
        for worker in workers { worker.stop() }
    }
}

private final class Worker: @unchecked Sendable {
    // @unchecked Sendable: `queue` is an MPSC ring whose only consumer is this worker's thread; `thread` is set
    // once before the thread starts and read only by `join`; the rest are atomics or immutable.
    let index: Int
    let queue: MPSCRing<any ActorJob>
    let parker = Parker()
    let sleeping = Atomic<Bool>(false)
    let running = Atomic<Bool>(true)
    /// The worker thread's `pthread_self()` (0 until it starts).
    let threadID = Atomic<UInt>(0)
    private var thread: pthread_t?
    private let finished = Parker()

    init(index: Int, capacity: Int) {
        self.index = index
        self.queue = MPSCRing(minimumCapacity: capacity)
    }

    func start(name _: String) {
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, workerMain, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        thread = handle
    }

    func submit(_ job: any ActorJob) {
        var spins = 0
        while !queue.enqueue(job) {
            spins += 1
            if spins < 64 { continue }
            sched_yield()
        }
        // Sequentially consistent: pairs with the worker's store of `sleeping` before its last check of the queue.
        if sleeping.load(ordering: .sequentiallyConsistent) {
            parker.unpark()
        }
    }

    func stop() {
        running.store(false, ordering: .sequentiallyConsistent)
        parker.unpark()
    }

    func join() {
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    /// Whether the thread `id` is this worker's.
    func runs(on id: UInt) -> Bool {
        // Relaxed: the worker's own thread stored the value before running anything; other threads never match
        // it whatever they read.
        threadID.load(ordering: .relaxed) == id
    }

    func loop() {
        threadID.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .sequentiallyConsistent)
        while true {
            if let job = queue.dequeue() {
                job.runTurn()
                continue
            }
            // Spin for up to ~50 µs before parking: waking a parked thread costs a futex call and a context
            // switch (several µs here), which dominates a cross-thread request/reply.
            var found = false
            let spinUntil = MonotonicClock.now() &+ 50_000
            spinning: while true {
                for _ in 0..<64 where queue.hasPublishedElement {
                    found = true
                    break spinning
                }
                if MonotonicClock.now() >= spinUntil { break }
            }
            if found { continue }
            if !running.load(ordering: .sequentiallyConsistent) { return }
            sleeping.store(true, ordering: .sequentiallyConsistent)
            if queue.hasPublishedElement || !running.load(ordering: .sequentiallyConsistent) {
                sleeping.store(false, ordering: .relaxed)
                continue
            }
            parker.park(timeoutNanoseconds: 100_000_000)
            sleeping.store(false, ordering: .relaxed)
        }
    }
}

private func workerMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let worker = Unmanaged<Worker>.fromOpaque(argument!).takeRetainedValue()
    worker.loop()
    return nil
}
