import Logging

/// How a ``SQLiteEventStore`` opens and writes its file.
public struct SQLiteEventStoreConfiguration: Sendable {
    /// SQLite's `PRAGMA synchronous` on the writer connection.
    public enum Synchronous: String, Sendable {
        /// Every commit fsyncs the write-ahead log before the appends it holds are answered: an acknowledged
        /// append survives a process crash and a power loss.
        case full
        /// Commits do not fsync (only checkpoints do): an acknowledged append survives a process crash but may
        /// be lost with the last commits on a power loss or OS crash. The database stays consistent either way.
        case normal
    }

    /// How the group-commit writer runs its statements (both on the same connection and prepared statements;
    /// kept for the GRDB-versus-C-API comparison of the issue, see the benchmarks).
    public enum WriterStatements: String, Sendable {
        /// `sqlite3_bind_*` / `sqlite3_step` / `sqlite3_reset` directly on the statements GRDB prepared.
        case sqliteC
        /// GRDB's `Statement.setUncheckedArguments` / `execute` / `fetchOne` with `StatementArguments`.
        case grdb
    }

    /// Durability of a commit; `.full` by default.
    public var synchronous: Synchronous = .full
    /// The most appends (and other writes) one transaction takes; the rest wait for the next commit.
    public var maxWritesPerTransaction: Int = 4096
    /// Reader connections (reads run on them concurrently, never on the writer).
    public var readerCount: Int = 4
    /// The writer's statement layer; `.sqliteC` by default.
    public var writerStatements: WriterStatements = .sqliteC
    /// The writer connection's page cache in KiB (`PRAGMA cache_size = -N`; SQLite's default is 2,000). The
    /// stream index takes inserts at one leaf per stream of a group commit, and the event-ID index at random
    /// leaves when IDs are random (``EventSourcing/EventID/random()``; the default ``EventSourcing/EventID/next()``
    /// is time-ordered): a cache that holds the indexes spares re-reading their pages on every group commit.
    public var writerCacheKiB: Int = 65_536
    /// The page size of a new store file in bytes (`PRAGMA page_size`, a power of two from 512 to 65,536;
    /// SQLite's default is 4,096); an existing file keeps its own. A group commit of appends to N streams
    /// rewrites about N index leaves in the WAL, each a whole page: smaller pages write fewer bytes per append.
    public var pageSize: Int = 4_096
    /// WAL pages after which a commit checkpoints (`PRAGMA wal_autocheckpoint`; SQLite's default is 1,000). A
    /// larger WAL writes a page rewritten by many commits back to the database once.
    public var walAutocheckpointPages: Int = 4_000
    /// Receives what the writer cannot report to a caller (a failed stream index fill).
    public var logger = Logger(label: "clstr.eventstore.sqlite")

    public init(
        synchronous: Synchronous = .full, maxWritesPerTransaction: Int = 4096, readerCount: Int = 4,
        writerStatements: WriterStatements = .sqliteC, writerCacheKiB: Int = 65_536,
        walAutocheckpointPages: Int = 4_000,
        pageSize: Int = 4_096
    ) {
        self.pageSize = pageSize
        self.writerCacheKiB = writerCacheKiB
        self.walAutocheckpointPages = walAutocheckpointPages
        self.synchronous = synchronous
        self.maxWritesPerTransaction = maxWritesPerTransaction
        self.readerCount = readerCount
        self.writerStatements = writerStatements
    }
}
