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

    public init(
        synchronous: Synchronous = .full, maxWritesPerTransaction: Int = 4096, readerCount: Int = 4,
        writerStatements: WriterStatements = .sqliteC
    ) {
        self.synchronous = synchronous
        self.maxWritesPerTransaction = maxWritesPerTransaction
        self.readerCount = readerCount
        self.writerStatements = writerStatements
    }
}
