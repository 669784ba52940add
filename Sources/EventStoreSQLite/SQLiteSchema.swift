import GRDB

enum SQLiteSchema {
    static let version: Int32 = 1
}
