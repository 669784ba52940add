import EventSourcing
import EventStoreSQLite
import Glibc

/// One appender: appends, and from the completion of each append issues the next, so that every appender always
/// has one append in flight.
final class ProbeAppender: Sendable {
    let store: SQLiteEventStore
    let index: Int
    let stream: StreamName

    init(store: SQLiteEventStore, index: Int) {
        self.store = store
        self.index = index
        self.stream = StreamName(aggregateType: "Probe", aggregateID: String(index))
    }

    static func start(store: SQLiteEventStore, appenders: Int) {
        for index in 0..<appenders { ProbeAppender(store: store, index: index).append(sequence: 1, expected: 0) }
    }

    func append(sequence: Int, expected: UInt64) {
        let count = 1 + sequence % 4
        let events = (0..<count).map { offset in
            EventData(type: "ProbeEvent", payload: Array("\(sequence)/\(offset)/\(count)".utf8))
        }
        store.append(to: stream, expected: .exact(expected), events: events) { [self] result in
            switch result {
            case .success(let result):
                writeLine(
                    "ack \(index) \(sequence) \(result.firstVersion) \(result.lastVersion) \(result.firstPosition) "
                        + "\(result.lastPosition)\n")
                append(sequence: sequence + 1, expected: result.lastVersion)
            case .failure(let error):
                writeLine("error \(index) \(sequence) \(error)\n")
            }
        }
    }
}

/// Writes `line` to stdout with one `write` call (no buffering: what is printed is what was acknowledged).
func writeLine(_ line: String) {
    var line = line
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
