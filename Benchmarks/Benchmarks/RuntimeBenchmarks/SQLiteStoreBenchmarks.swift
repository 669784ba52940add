import Benchmark
import Dispatch
import EventSourcing
import EventStoreSQLite
import Foundation
import Synchronization

/// The SQLite event store's appends, on a real file in a temporary directory (one per benchmark):
/// - 200 appenders, each keeping one single-event append in flight (`.exact` expected version, as an aggregate's
///   actor does), so that the group-commit writer batches what queued during the previous commit; with the
///   writer's statements through the C API and through GRDB's statement API (the issue's comparison);
/// - one appender at a time: one append per commit, fsync-bound with `synchronous=FULL`;
/// - the same with `synchronous=NORMAL`.
/// Throughput is appends (= events) per second; 100-byte payloads; event IDs time-ordered (`EventID.next()`, UUID
/// v7 layout, the default of `EventData`) or random (`EventID.random()`, UUID v4).
func registerSQLiteStoreBenchmarks() {
    let grouped = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .cpuTotal], warmupIterations: 1, scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 100)
    let single = Benchmark.Configuration(
        metrics: [.wallClock, .throughput], warmupIterations: 10, maxDuration: .seconds(3), maxIterations: 20_000)

    for (name, synchronous, statements, randomIDs) in [
        ("FULL, C API statements", SQLiteEventStoreConfiguration.Synchronous.full, .sqliteC, false),
        ("FULL, GRDB statements", .full, .grdb, false),
        ("FULL, C API statements, random event IDs", .full, .sqliteC, true),
        ("FULL, GRDB statements, random event IDs", .full, .grdb, true),
        ("NORMAL, C API statements", .normal, SQLiteEventStoreConfiguration.WriterStatements.sqliteC, false),
    ] {
        let configuration = SQLiteEventStoreConfiguration(synchronous: synchronous, writerStatements: statements)
        Benchmark(
            "SQLite append, 200 appenders, group commit, \(name)", configuration: grouped,
            closure: { benchmark, fixture in
                fixture.run(total: benchmark.scaledIterations.count)
            },
            setup: { try AppendPipeline(appenders: 200, configuration: configuration, randomIDs: randomIDs) },
            teardown: { AppendPipeline.closeAll() })
    }
    for (name, synchronous) in [
        ("FULL", SQLiteEventStoreConfiguration.Synchronous.full), ("NORMAL", .normal),
    ] {
        let configuration = SQLiteEventStoreConfiguration(synchronous: synchronous)
        Benchmark(
            "SQLite append, 1 appender, one append per commit, \(name)", configuration: single,
            closure: { benchmark, fixture in
                fixture.run(total: benchmark.scaledIterations.count)
            }, setup: { try AppendPipeline(appenders: 1, configuration: configuration) },
            teardown: { AppendPipeline.closeAll() })
    }
}

/// `appenders` chains of appends: each issues its next append from the previous one's completion (on the store's
/// completion thread), so that every appender keeps exactly one append in flight.
final class AppendPipeline: @unchecked Sendable {
    // @unchecked Sendable: `versions[k]` is only touched by appender k's chain, whose steps are ordered by the
    // store (an append's completion runs after the append was queued; the next append is queued from it).
    private static let live = Mutex<[AppendPipeline]>([])

    let store: SQLiteEventStore
    let directory: String
    let streams: [StreamName]
    private let versions: UnsafeMutableBufferPointer<UInt64>
    private let remaining = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let target = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)
    private let payload = [UInt8](repeating: 120, count: 100)

    /// Whether events get ``EventSourcing/EventID/random()`` IDs instead of the default time-ordered ones
    /// (``EventSourcing/EventID/next()``).
    let randomIDs: Bool

    init(appenders: Int, configuration: SQLiteEventStoreConfiguration, randomIDs: Bool = false) throws {
        self.randomIDs = randomIDs
        directory = NSTemporaryDirectory() + "es-sqlite-bench-\(UUID().uuidString)"
        store = try SQLiteEventStore(directory: directory, configuration: configuration)
        streams = (0..<appenders).map { StreamName(aggregateType: "Bench", aggregateID: String($0)) }
        versions = .allocate(capacity: appenders)
        versions.initialize(repeating: 0)
        Self.live.withLock { $0.append(self) }
    }

    /// Process CPU time spent inside ``run(total:)`` and the appends it ran: the whole store's cost per append
    /// (writer, completion thread, appenders), robust to the machine's noise unlike events/s.
    private let runCPUNanoseconds = Atomic<UInt64>(0)
    private let runAppends = Atomic<Int>(0)

    /// Runs `total` appends and returns when all completed.
    func run(total: Int) {
        let cpuStart = processCPUTime()
        defer {
            // Relaxed: statistics read after the runs.
            runCPUNanoseconds.wrappingAdd(processCPUTime() &- cpuStart, ordering: .relaxed)
            runAppends.wrappingAdd(total, ordering: .relaxed)
        }
        // Relaxed: the store's queue orders these stores before the completions that read them.
        remaining.store(total, ordering: .relaxed)
        completed.store(0, ordering: .relaxed)
        target.store(total, ordering: .relaxed)
        for appender in 0..<min(streams.count, total) { issue(appender) }
        finished.wait()
    }

    private func issue(_ appender: Int) {
        // Relaxed: a counter that only elects which appends run.
        guard remaining.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 else { return }
        let event = EventData(id: randomIDs ? .random() : .next(), type: "Bench", payload: payload)
        store.append(to: streams[appender], expected: .exact(versions[appender]), events: [event]) { [self] result in
            switch result {
            case .success(let appended): versions[appender] = appended.lastVersion
            case .failure: failures.wrappingAdd(1, ordering: .relaxed)
            }
            // The next append is issued before this one counts as completed: once the round's last completion
            // signals, no chain of that round can start another append (it would race the next round's).
            issue(appender)
            // Acquiring/releasing: the last completion's signal publishes every earlier one's writes.
            if completed.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == target.load(ordering: .relaxed) {
                finished.signal()
            }
        }
    }

    static func closeAll() {
        let pipelines = live.withLock { list -> [AppendPipeline] in
            defer { list.removeAll() }
            return list
        }
        for pipeline in pipelines {
            let label =
                "\(pipeline.streams.count) appender(s), \(pipeline.store.configuration.synchronous), "
                + "\(pipeline.store.configuration.writerStatements)\(pipeline.randomIDs ? ", random IDs" : ""), "
                + "page \(pipeline.store.configuration.pageSize)"
            let writerCPU = Int(pipeline.store.writerCPUNanosecondsPerWrite)
            // Relaxed: statistics read after the runs.
            let appends = UInt64(max(1, pipeline.runAppends.load(ordering: .relaxed)))
            let processCPU = pipeline.runCPUNanoseconds.load(ordering: .relaxed) / appends
            print(
                "SQLite benchmark (\(label)): writer CPU per append \(writerCPU) ns, "
                    + "\(Int(pipeline.store.writesPerBatch)) appends per transaction, process CPU per append "
                    + "\(processCPU) ns")
            pipeline.store.close()
            if pipeline.failures.load(ordering: .relaxed) > 0 {
                print("SQLite benchmark: \(pipeline.failures.load(ordering: .relaxed)) appends failed")
            }
            try? FileManager.default.removeItem(atPath: pipeline.directory)
            pipeline.versions.deallocate()
        }
    }
}

/// Load of a 10,000-event aggregate from the SQLite store (reads on a reader connection): from a snapshot at its
/// last version, and by full replay. Each load waits for its completion (GRDB's reader queue).
func registerSQLiteLoadBenchmarks() {
    let load = Benchmark.Configuration(
        metrics: [.wallClock, .throughput], warmupIterations: 3, maxDuration: .seconds(3), maxIterations: 2_000)
    Benchmark(
        "ES load 10k-event aggregate from snapshot (SQLite)", configuration: load,
        closure: { benchmark, fixture in
            for _ in benchmark.scaledIterations { fixture.load(fixture.fromSnapshot) }
        }, setup: { try SQLiteLoadFixture() }, teardown: { SQLiteLoadFixture.closeAll() })
    Benchmark(
        "ES load 10k-event aggregate by full replay (SQLite)", configuration: load,
        closure: { benchmark, fixture in
            for _ in benchmark.scaledIterations { fixture.load(fixture.replaying) }
        }, setup: { try SQLiteLoadFixture() }, teardown: { SQLiteLoadFixture.closeAll() })
}

/// A SQLite store holding one 10,000-event `BenchCounter` stream and a snapshot at its last version.
final class SQLiteLoadFixture: Sendable {
    private static let live = Mutex<[SQLiteLoadFixture]>([])
    let store: SQLiteEventStore
    let directory: String
    let fromSnapshot: AggregateRepository<BenchCounter>
    let replaying: AggregateRepository<BenchCounter>

    init() throws {
        directory = NSTemporaryDirectory() + "es-sqlite-load-\(UUID().uuidString)"
        store = try SQLiteEventStore(directory: directory)
        let done = DispatchSemaphore(value: 0)
        let stream = StreamName(aggregateType: BenchCounter.aggregateType, aggregateID: "big")
        var state = BenchCounter()
        for chunk in 0..<10 {
            let events = try (1...1000).map { offset in
                let amount = chunk * 1000 + offset
                state.evolve(Incremented(amount: amount))
                return try BenchCounter.eventCodec.encode(Incremented(amount: amount))
            }
            store.append(to: stream, expected: .exact(UInt64(chunk * 1000)), events: events) { result in
                precondition((try? result.get()) != nil)
                done.signal()
            }
            done.wait()
        }
        let payload = try state.encodeSnapshot()!
        store.saveSnapshot(Snapshot(stream: stream, version: 10_000, payload: payload)) { _ in done.signal() }
        done.wait()
        fromSnapshot = AggregateRepository<BenchCounter>(store: store, snapshots: store)
        replaying = AggregateRepository<BenchCounter>(store: store)
        Self.live.withLock { $0.append(self) }
    }

    func load(_ repository: AggregateRepository<BenchCounter>) {
        let done = DispatchSemaphore(value: 0)
        repository.load(id: "big") { result in
            precondition((try? result.get().state.count) == 10_000)
            blackHole(result)
            done.signal()
        }
        done.wait()
    }

    static func closeAll() {
        for fixture in live.withLock({ list -> [SQLiteLoadFixture] in
            defer { list.removeAll() }
            return list
        }) {
            fixture.store.close()
            try? FileManager.default.removeItem(atPath: fixture.directory)
        }
    }
}

/// This process's CPU time (user + system, every thread) in nanoseconds.
func processCPUTime() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}
