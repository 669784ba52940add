import Benchmark
import Dispatch
import Foundation
import EventSourcing
import RuntimeNATS
import Synchronization
import ProcessKit

/// ``JetStreamEventStore`` appends against a `nats-server -js` (file storage) the setup starts on a free port.
///
/// - one at a time: an append of one event, awaited before the next (the acknowledged round trip).
/// - 10-event appends without and with the event-ID markers
///   (``JetStreamEventStore/Configuration/detectsRepeatedEventIDs``, off by default; single-event appends write
///   none).
/// - pipelined: 256 lanes, each appending to its own stream with `.exact` and sending its next append from the
///   previous one's completion (on libnats' acknowledgement thread); 1 event per append, then 10.
///
/// Figures come from a shared 2-core machine (other builds and benchmarks run beside them).
func registerJetStreamEventStoreBenchmarks() {
    let single = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 100, maxDuration: .seconds(3),
        maxIterations: 20_000)
    for sendAsap in [true, false] {
        let markers = false
        let name =
            "JetStream event store append, one at a time (1 event" + (sendAsap ? ", send-asap" : ", buffered") + ")"
        Benchmark(
            name, configuration: single,
            closure: { benchmark, fixture in
                blackHole(fixture.appendOneAtATime(benchmark.scaledIterations.count))
            }, setup: { try JetStreamStoreFixture(markers: markers, sendAsap: sendAsap) },
            teardown: { JetStreamStoreFixture.stopAll() })
    }

    let pipelined = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 2, scalingFactor: .kilo,
        maxDuration: .seconds(4), maxIterations: 100)
    for (perAppend, markers, sendAsap) in [(1, false, false), (1, false, true), (10, false, false), (10, true, false)] {
        let name =
            "JetStream event store append pipelined, 256 streams in flight (\(perAppend) event"
            + (perAppend == 1 ? "" : "s") + " per append" + (markers ? ", event-ID markers" : "")
            + (sendAsap ? ", send-asap" : "") + "; throughput = events)"
        Benchmark(
            name, configuration: pipelined,
            closure: { benchmark, fixture in
                blackHole(
                    fixture.appendPipelined(events: benchmark.scaledIterations.count, lanes: 256, perAppend: perAppend))
            }, setup: { try JetStreamStoreFixture(markers: markers, sendAsap: sendAsap) },
            teardown: { JetStreamStoreFixture.stopAll() })
    }
}

/// nats-server with JetStream (temporary store directory) and an event store on it.
final class JetStreamStoreFixture: Sendable {
    private static let live = Mutex<[JetStreamStoreFixture]>([])

    let server: NATSServer
    let connection: NATSConnection
    let store: JetStreamEventStore
    /// Each lane's stream version, continued across runs (a lane has one append in flight at a time).
    let lanes: LaneVersions

    /// The configuration, for the CPU figures printed at teardown.
    let label: String

    init(markers: Bool = false, sendAsap: Bool = false) throws {
        label = (markers ? "markers" : "no markers") + (sendAsap ? ", send-asap" : ", buffered")
        server = try NATSServer(jetStream: true)
        var options = NATSConnection.Options(urls: [server.url])
        options.sendAsap = sendAsap
        connection = try NATSConnection(options: options)
        var configuration = JetStreamEventStore.Configuration(prefix: "bench")
        configuration.detectsRepeatedEventIDs = markers
        store = try JetStreamEventStore(connection: connection, configuration: configuration)
        lanes = LaneVersions(count: 256)
        Self.live.withLock { $0.append(self) }
    }

    /// Events appended through the pipelined runs, and the CPU time the benchmark process (the client) and
    /// nats-server spent in them: the cost per event on each side, robust to the machine's noise.
    let pipelinedEvents = Atomic<Int>(0)
    let clientCPUNanoseconds = Atomic<UInt64>(0)
    let serverCPUNanoseconds = Atomic<UInt64>(0)

    /// nats-server's user + system CPU time from `/proc/<pid>/stat` (clock ticks of 10 ms).
    func serverCPUTime() -> UInt64 {
        guard let stat = try? String(contentsOfFile: "/proc/\(server.pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return 0 }
        return (user + system) * 10_000_000
    }

    static func stopAll() {
        for fixture in live.withLock({ list in
            defer { list.removeAll() }
            return list
        }) {
            // Relaxed: statistics read after the runs.
            let events = fixture.pipelinedEvents.load(ordering: .relaxed)
            if events > 0 {
                let client = fixture.clientCPUNanoseconds.load(ordering: .relaxed) / UInt64(events)
                let server = fixture.serverCPUNanoseconds.load(ordering: .relaxed) / UInt64(events)
                print(
                    "JetStream benchmark (\(fixture.label)): CPU per event: client \(client) ns, nats-server "
                        + "\(server) ns")
            }
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
    func appendPipelined(events: Int, lanes count: Int, perAppend: Int) -> Int {
        let appendsPerLane = max(1, (events + count * perAppend - 1) / (count * perAppend))
        let pipeline = JetStreamAppendPipeline(
            store: store, versions: lanes, lanes: count, appendsPerLane: appendsPerLane, perAppend: perAppend)
        let clientStart = processCPUTime()
        let serverStart = serverCPUTime()
        let failures = pipeline.run()
        // Relaxed: statistics read after the runs.
        clientCPUNanoseconds.wrappingAdd(processCPUTime() &- clientStart, ordering: .relaxed)
        serverCPUNanoseconds.wrappingAdd(serverCPUTime() &- serverStart, ordering: .relaxed)
        pipelinedEvents.wrappingAdd(appendsPerLane * count * perAppend, ordering: .relaxed)
        return failures
    }
}

/// The lanes' stream versions (the store's own memory of each stream's last commit stays warm across runs, as
/// for a live actor).
final class LaneVersions: Sendable {
    let versions: Mutex<[UInt64]>

    init(count: Int) { versions = Mutex([UInt64](repeating: 0, count: count)) }
}

/// Lanes of sequential appends, each lane's next append sent from its previous append's completion.
final class JetStreamAppendPipeline: Sendable {
    let store: JetStreamEventStore
    let versions: LaneVersions
    let lanes: Int
    let appendsPerLane: Int
    let perAppend: Int
    let remainingLanes: Atomic<Int>
    let failures = Atomic<Int>(0)
    let done = DispatchSemaphore(value: 0)

    init(store: JetStreamEventStore, versions: LaneVersions, lanes: Int, appendsPerLane: Int, perAppend: Int) {
        self.store = store
        self.versions = versions
        self.lanes = lanes
        self.appendsPerLane = appendsPerLane
        self.perAppend = perAppend
        self.remainingLanes = Atomic(lanes)
        // Made once, as an aggregate's actor holds its stream name.
        self.streams = (0..<lanes).map { StreamName(aggregateType: "Lane", aggregateID: "p\(perAppend)-l\($0)") }
    }

    let streams: [StreamName]

    func run() -> Int {
        for lane in 0..<lanes { next(lane: lane, left: appendsPerLane) }
        done.wait()
        // Relaxed: the semaphore orders the lanes' last writes before this read.
        return failures.load(ordering: .relaxed)
    }

    private func next(lane: Int, left: Int) {
        guard left > 0 else {
            // Acquiring-and-releasing: the last lane to finish signals after every other lane's decrement.
            if remainingLanes.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.signal() }
            return
        }
        let stream = streams[lane]
        let version = versions.versions.withLock { $0[lane] }
        let events = (0..<perAppend).map { _ in EventData(type: "T", payload: JetStreamStoreFixture.payload) }
        store.append(to: stream, expected: .exact(version), events: events) { [self] result in
            switch result {
            case .success(let appended):
                versions.versions.withLock { $0[lane] = appended.lastVersion }
                next(lane: lane, left: left - 1)
            case .failure:
                // Relaxed: a count read after the semaphore.
                failures.wrappingAdd(1, ordering: .relaxed)
                next(lane: lane, left: 0)
            }
        }
    }
}
