import EventSourcing
import EventStoreSQLite
import Foundation
import TestKit
import Testing

/// Kills `es-crash-probe` (several concurrent appenders, each printing every acknowledged append) with SIGKILL in
/// the middle of its appends, reopens the store, and checks that every acknowledged append is there and that no
/// append is there in part.
@Suite("SQLite store survives SIGKILL", .serialized)
struct SQLiteCrashTests {
    /// The probe, built next to the test bundle: SwiftPM puts executables and the `.xctest` bundle in the same
    /// build folder (`.build/<triple>/<configuration>/`), which `/proc/self/exe` names without relying on source
    /// paths.
    static func probeExecutable() throws -> String {
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var folder = URL(fileURLWithPath: me).deletingLastPathComponent()
        // Inside an `.xctest` bundle directory (Darwin layout), go up to the build folder.
        while folder.path.contains(".xctest") { folder.deleteLastPathComponent() }
        let candidate = folder.appendingPathComponent("es-crash-probe").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw FixtureError("es-crash-probe not built at \(candidate); run `swift build --build-tests`")
        }
        return candidate
    }

    struct Ack: Hashable {
        var appender: Int
        var sequence: Int
        var firstVersion: UInt64
        var lastVersion: UInt64
        var firstPosition: UInt64
        var lastPosition: UInt64
    }

    static func acks(in output: String) -> [Ack] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 7, fields[0] == "ack", let appender = Int(fields[1]), let sequence = Int(fields[2]),
                let firstVersion = UInt64(fields[3]), let lastVersion = UInt64(fields[4]),
                let firstPosition = UInt64(fields[5]), let lastPosition = UInt64(fields[6])
            else { return nil }
            return Ack(
                appender: appender, sequence: sequence, firstVersion: firstVersion, lastVersion: lastVersion,
                firstPosition: firstPosition, lastPosition: lastPosition)
        }
    }

    @Test(
        "every acknowledged append is stored after SIGKILL, and no append is stored in part",
        arguments: ["full", "normal"])
    func killedMidRun(synchronous: String) async throws {
        let directory = TemporaryDirectory()
        let appenders = 8
        let child = try ChildProcess(
            executable: try Self.probeExecutable(), arguments: [directory.path, String(appenders), synchronous])
        let running = await offPool {
            ChildProcess.waitUntil(timeout: 60) { Self.acks(in: child.output).count >= 400 }
        }
        #expect(running, "the probe acknowledged too few appends: \(child.output.suffix(500))")
        kill(child.pid, SIGKILL)
        await offPool { child.process.waitUntilExit() }
        #expect(child.process.terminationReason == .uncaughtSignal)
        let acks = Self.acks(in: child.output)
        #expect(!child.output.contains("error "), "\(child.output.suffix(500))")
        #expect(acks.count >= 400)

        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        var storedAppends = 0
        for appender in 0..<appenders {
            let events = try await store.read(
                stream: StreamName(aggregateType: "Probe", aggregateID: String(appender)))
            #expect(events.map(\.version) == Array(stride(from: 1, through: UInt64(events.count), by: 1)))
            // Group the stored events by append: each group must be whole ("sequence/offset/count").
            var index = 0
            var sequence = 1
            while index < events.count {
                let parts = String(decoding: events[index].payload, as: UTF8.self).split(separator: "/")
                let count = 1 + sequence % 4
                #expect(parts == ["\(sequence)", "0", "\(count)"])
                #expect(index + count <= events.count, "append \(sequence) of appender \(appender) stored in part")
                for offset in 0..<min(count, events.count - index) {
                    let payload = String(decoding: events[index + offset].payload, as: UTF8.self)
                    #expect(payload == "\(sequence)/\(offset)/\(count)")
                }
                index += count
                sequence += 1
                storedAppends += 1
            }
            // Every acknowledged append of this appender is there, at the versions and positions acknowledged.
            for ack in acks where ack.appender == appender {
                let stored = events.filter { $0.version >= ack.firstVersion && $0.version <= ack.lastVersion }
                #expect(stored.count == Int(ack.lastVersion - ack.firstVersion + 1))
                #expect(stored.first?.position == ack.firstPosition && stored.last?.position == ack.lastPosition)
                #expect(
                    stored.allSatisfy { String(decoding: $0.payload, as: UTF8.self).hasPrefix("\(ack.sequence)/") })
            }
        }
        #expect(storedAppends >= acks.count)
        let all = try await store.readAll(from: 1, maxCount: .max)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.position < $1.position })
        #expect(try await store.headPosition() == all.last?.position ?? 0)
    }
}
