// es-crash-probe: appends to a SQLite event store in a loop from several concurrent appenders and prints every
// acknowledged append on stdout (one unbuffered write per line), until it is killed. The crash test
// (Tests/EventStoreSQLiteTests/SQLiteCrashTests.swift) kills it with SIGKILL and checks the store.
//
// Usage: es-crash-probe <directory> [appenders] [synchronous: full|normal]
//
// Appender k writes stream `Probe/k`; its i-th append (i = 1, 2, …) holds 1 + i % 4 events whose payload is
// "<i>/<index>/<count>"; each acknowledgement prints `ack <k> <i> <firstVersion> <lastVersion> <firstPosition>
// <lastPosition>`.
import EventSourcing
import EventStoreSQLite
import Glibc

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    writeLine("usage: es-crash-probe <directory> [appenders] [full|normal]\n")
    exit(2)
}
let appenders = arguments.count >= 3 ? Int(arguments[2]) ?? 8 : 8
var configuration = SQLiteEventStoreConfiguration()
if arguments.count >= 4 && arguments[3] == "normal" { configuration.synchronous = .normal }

let store: SQLiteEventStore
do {
    store = try SQLiteEventStore(directory: arguments[1], configuration: configuration)
} catch {
    writeLine("cannot open store: \(error)\n")
    exit(1)
}
ProbeAppender.start(store: store, appenders: appenders)
writeLine("started\n")
while true { pause() }
