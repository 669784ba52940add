import Foundation

/// Reading and writing the comma-separated files of `results/` (RFC 4180 quoting: a field holding a comma, a
/// quote or a line break is quoted, and quotes inside it are doubled).
///
/// Off the hot path: used by the bench driver, `make compare` and `make report`, never while load is generated.
public enum BenchCSV {
    /// Splits CSV text into records of fields. Blank lines are skipped; `\r\n` and `\n` both end a record.
    ///
    /// - Parameter text: the whole file.
    /// - Returns: the records in file order, the header (if any) included.
    public static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var inQuotes = false
        var fieldWasQuoted = false
        var iterator = text.makeIterator()
        var pending: Character? = nil

        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !fieldWasQuoted) {
                records.append(record)
            }
            record = []
            field = ""
            fieldWasQuoted = false
        }

        while let char = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if char == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            field.append("\"")
                        } else {
                            inQuotes = false
                            pending = next
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(char)
                }
                continue
            }
            switch char {
            case "\"":
                inQuotes = true
                fieldWasQuoted = true
            case ",":
                record.append(field)
                field = ""
                fieldWasQuoted = false
            case "\n", "\r\n", "\r":
                endRecord()
            default:
                field.append(char)
            }
        }
        if !field.isEmpty || !record.isEmpty || fieldWasQuoted {
            endRecord()
        }
        return records
    }

    /// Formats one record as a CSV line, without the line break.
    ///
    /// - Parameter fields: the fields in column order.
    /// - Returns: the line, with fields quoted only where needed.
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",")
    }

    /// Quotes a field when it holds a comma, a quote or a line break.
    ///
    /// - Parameter field: the raw value.
    /// - Returns: the value as it is written in the file.
    public static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
