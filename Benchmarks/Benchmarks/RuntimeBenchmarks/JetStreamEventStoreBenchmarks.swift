import Benchmark
import Dispatch
import EventSourcing
import RuntimeNATS
import Synchronization
import ProcessKit

/// ``JetStreamEventStore`` appends against a `nats-server -js` (file storage) the setup starts on a free port.
///
/// - one at a time: an append of one event, awaited before the next (the acknowledged round trip).
/// - with and without the event-ID markers (``JetStreamEventStore/Configuration/detectsRepeatedEventIDs``).
/// - pipelined: 256 lanes, each appending to its own stream with `.exact` and sending its next append from the
///   previous one's completion (on libnats' acknowledgement thread); 1 event per append, then 10.
///
/// Figures come from a shared 2-core machine (other builds and benchmarks run beside them).
func registerJetStreamEventStoreBenchmarks() {
    let single = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 100, maxDuration: .seconds(3),
        maxIterations: 20_000)

    Benchmark(
        "JetStream event store append, one at a time (1 event)", configuration: single,
        closure: { benchmark, fixture in
            blackHole(fixture.appendOneAtATime(benchmark.scaledIterations.count))
        }, setup: { try JetStreamStoreFixture() }, teardown: { JetStreamStoreFixture.stopAll() })

    let pipelined = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 2, scalingFactor: .kilo,
        maxDuration: .seconds(4), maxIterations: 100)

    Benchmark(
        "JetStream event store append pipelined, 256 streams in flight (1 event per append; throughput = events)",
        configuration: pipelined,
        closure: { benchmark, fixture in
            blackHole(fixture.appendPipelined(events: benchmark.scaledIterations.count, lanes: 256, perAppend: 1))
        }, setup: { try JetStreamStoreFixture() }, teardown: { JetStreamStoreFixture.stopAll() })

    Benchmark(
        "JetStream event store append pipelined, 256 streams in flight (1 event per append, no event-ID markers; throughput = events)",
        configuration: pipelined,
        closure: { benchmark, fixture in
            blackHole(fixture.appendPipelined(events: benchmark.scaledIterations.count, lanes: 256, perAppend: 1))
        }, setup: { try JetStreamStoreFixture(markers: false) }, teardown: { JetStreamStoreFixture.stopAll() })

    Benchmark(
        "JetStream event store append, one at a time (1 event, no event-ID markers)", configuration: single,
        closure: { benchmark, fixture in
            blackHole(fixture.appendOneAtATime(benchmark.scaledIterations.count))
        }, setup: { try JetStreamStoreFixture(markers: false) }, teardown: { JetStreamStoreFixture.stopAll() })

    Benchmark(
        "JetStream event store append pipelined, 256 streams in flight (10 events per append; throughput = events)",
        configuration: pipelined,
        closure: { benchmark, fixture in
            blackHole(fixture.appendPipelined(events: benchmark.scaledIterations.count, lanes: 256, perAppend: 10))
        }, setup: { try JetStreamStoreFixture() }, teardown: { JetStreamStoreFixture.stopAll() })
}

/// nats-server with JetStream (temporary store directory) and an event store on it.
final class JetStreamStoreFixture: Sendable {
    private static let live = Mutex<[JetStreamStoreFixture]>([])

    let server: NATSServer
    let connection: NATSConnection
    let store: JetStreamEventStore
    /// Versions per lane stream, continued across runs (each lane is touched by one append at a time).
    let versions: Mutex<[UInt64]>
    let run = Mutex(0)

    init(markers: Bool = true) throws {
        server = try NATSServer(jetStream: true)
        connection = try NATSConnection(options: .init(urls: [server.url]))
        var configuration = JetStreamEventStore.Configuration(prefix: "bench")
        configuration.detectsRepeatedEventIDs = markers
        store = try JetStreamEventStore(connection: connection, configuration: configuration)
        versions = Mutex([UInt64](repeating: 0, count: 1024))
        Self.live.withLock { $0.append(self) }
    }

    static func stopAll() {
        for fixture in live.withLock({ list in
            defer { list.removeAll() }
            return list
        }) {
            fixture.store.close()
            fixture.connection.close()
            fixture.server.stop()
        }
    }

    static let payload = [UInt8](repeating: 0x61, count: 64)

    /// Appends `count` single events to one stream, each awaited before the next.
    /// - Returns: the failures (0 expected).
    func appendOneAtATime(_ count: Int) -> Int {
        let stream = StreamName(aggregateType: "Bench", aggregateID: "single")
        let done = DispatchSemaphore(value: 0)
        let failures = Atomic<Int>(0)
        for _ in 0..<count {
            store.append(to: stream, expected: .any, events: [EventData(type: "T", payload: Self.payload)]) {
                result in
                // Relaxed: read after the semaphore, which orders it.
                if case .failure = result { failures.wrappingAdd(1, ordering: .relaxed) }
                done.signal()
            }
            done.wait()
        }
        return failures.load(ordering: .relaxed)
    }

    /// Appends at least `events` events through `lanes` streams, each with one append in flight.
    /// - Returns: the failures (0 expected).
    func appendPipelined(events: Int, lanes: Int, perAppend: Int) -> Int {
        let runID = run.withLock { value -> Int in
            value += 1
            return value
        }
        let appendsPerLane = max(1, (events + lanes * perAppend - 1) / (lanes * perAppend))
        let pipeline = AppendPipeline(
            store: store, lanes: lanes, appendsPerLane: appendsPerLane, perAppend: perAppend, run: runID)
        return pipeline.run()
    }
}

/// Lanes of sequential appends, each lane's next append sent from its previous append's completion.
final class AppendPipeline: Sendable {
    let store: JetStreamEventStore
    let lanes: Int
    let appendsPerLane: Int
    let perAppend: Int
    let runID: Int
    let remainingLanes: Atomic<Int>
    let failures = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)

    init(store: JetStreamEventStore, lanes: Int, appendsPerLane: Int, perAppend: Int, run: Int) {
        self.store = store
        self.lanes = lanes
        self.appendsPerLane = appendsPerLane
        self.perAppend = perAppend
        self.runID = run
        self.remainingLanes = Atomic(lanes)
    }

    func run() -> Int {
        for lane in 0..<lanes {
            // Each run writes fresh streams, so `.noStream` then `.exact` hold without reading anything back.
            next(
                StreamName(aggregateType: "Lane", aggregateID: "r\(runID)-p\(perAppend)-l\(lane)"), version: 0,
                left: appendsPerLane)
        }
        done.wait()
        // Relaxed: the semaphore orders the lanes' last writes before this read.
        return failures.load(ordering: .relaxed)
    }

    private func next(_ stream: StreamName, version: UInt64, left: Int) {
        guard left > 0 else {
            // Acquiring-and-releasing: the last lane to finish signals after every other lane's decrement.
            if remainingLanes.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.signal() }
            return
        }
        let events = (0..<perAppend).map { _ in EventData(type: "T", payload: JetStreamStoreFixture.payload) }
        store.append(to: stream, expected: .exact(version), events: events) { [self] result in
            switch result {
            case .success(let appended):
                next(stream, version: appended.lastVersion, left: left - 1)
            case .failure:
                // Relaxed: a count read after the semaphore.
                failures.wrappingAdd(1, ordering: .relaxed)
                next(stream, version: version, left: 0)
            }
        }
    }
}
