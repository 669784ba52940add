import GRDB
import GRDBSQLite

/// Thin calls into the SQLite C API on statements GRDB prepared and caches (`Statement.sqliteStatement`): the
/// writer's C-API insert loop and the reads. GRDB keeps ownership (it finalizes the statements when it closes the
/// connection); these helpers only bind, step, read columns and reset.
enum SQLiteRaw {
    /// SQLite copies the bytes during the bind call (`SQLITE_TRANSIENT`).
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    @inline(__always)
    static func bind(_ statement: OpaquePointer, _ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
    }

    @inline(__always)
    static func bind(_ statement: OpaquePointer, _ index: Int32, _ value: UInt64) {
        sqlite3_bind_int64(statement, index, Int64(bitPattern: value))
    }

    static func bind(_ statement: OpaquePointer, _ index: Int32, text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) {
                sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), transient)
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: Int32, optionalText: String?) {
        if let optionalText { bind(statement, index, text: optionalText) } else { sqlite3_bind_null(statement, index) }
    }

    static func bind(_ statement: OpaquePointer, _ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { bytes in
            // A zero-length blob must still be a blob, not NULL: SQLite takes a non-nil pointer for that.
            if bytes.isEmpty {
                _ = sqlite3_bind_zeroblob(statement, index, 0)
            } else {
                _ = sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), transient)
            }
        }
    }

    static func bind(_ statement: OpaquePointer, _ index: Int32, id: EventIDBytes) {
        withUnsafeBytes(of: id.storage) { bytes in
            _ = sqlite3_bind_blob(statement, index, bytes.baseAddress, 16, transient)
        }
    }

    /// Resets the statement for its next use (bindings are replaced by the next use's binds).
    @inline(__always)
    static func reset(_ statement: OpaquePointer) {
        sqlite3_reset(statement)
    }

    @inline(__always)
    static func int64(_ statement: OpaquePointer, _ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    @inline(__always)
    static func uint64(_ statement: OpaquePointer, _ column: Int32) -> UInt64 {
        UInt64(bitPattern: sqlite3_column_int64(statement, column))
    }

    static func text(_ statement: OpaquePointer, _ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    static func optionalText(_ statement: OpaquePointer, _ column: Int32) -> String? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : text(statement, column)
    }

    static func blob(_ statement: OpaquePointer, _ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer = sqlite3_column_blob(statement, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The 16 bytes of an event-ID column, or `nil` when the column holds something else.
    static func eventID(_ statement: OpaquePointer, _ column: Int32) -> EventIDBytes? {
        guard sqlite3_column_bytes(statement, column) == 16, let pointer = sqlite3_column_blob(statement, column)
        else { return nil }
        return EventIDBytes(UnsafeRawBufferPointer(start: pointer, count: 16))
    }

    /// The error of a failed step on `connection`, as GRDB reports it.
    static func error(_ code: Int32, _ connection: OpaquePointer?, _ sql: String) -> DatabaseError {
        let message = connection.map { String(cString: sqlite3_errmsg($0)) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }
}
