import AccountingDomain
import EventSourcing
import HTTPFront

#if canImport(Glibc)
    import Glibc
#endif

/// The JSON of `GET /accounts/{id}/events`: each event's type, version, position, time and data.
enum EventJSON {
    static func document(id: String, records: [RecordedEvent]) -> String {
        var json = JSONWriter()
        json.writeRaw(#"{"account_id":"#)
        json.writeString(id)
        json.writeRaw(#","events":["#)
        for (index, record) in records.enumerated() {
            if index > 0 { json.writeRaw(",") }
            json.writeRaw(#"{"type":"#)
            json.writeString(record.type)
            json.writeRaw(#","version":"#)
            json.writeInt(Int(record.version))
            json.writeRaw(#","position":"#)
            json.writeInt(Int(record.position))
            json.writeRaw(#","occurred_at":"#)
            json.writeString(timestamp(record.occurredAt))
            json.writeRaw(#","data":"#)
            switch try? AccountEvent.codec.decode(record) {
            case .opened(let event)?:
                json.writeRaw(#"{"initial":"#)
                json.writeInt(Int(event.initial))
                json.writeRaw("}")
            case .deposited(let event)?:
                json.writeRaw(#"{"amount":"#)
                json.writeInt(Int(event.amount))
                json.writeRaw("}")
            case .withdrawn(let event)?:
                json.writeRaw(#"{"amount":"#)
                json.writeInt(Int(event.amount))
                json.writeRaw("}")
            case .transferDebited(let event)?:
                json.writeRaw(#"{"transfer_id":"#)
                json.writeString(event.transferID)
                json.writeRaw(#","to":"#)
                json.writeString(event.to)
                json.writeRaw(#","amount":"#)
                json.writeInt(Int(event.amount))
                json.writeRaw("}")
            case .transferCredited(let event)?:
                json.writeRaw(#"{"transfer_id":"#)
                json.writeString(event.transferID)
                json.writeRaw(#","from":"#)
                json.writeString(event.from)
                json.writeRaw(#","amount":"#)
                json.writeInt(Int(event.amount))
                json.writeRaw("}")
            case .transferRefunded(let event)?:
                json.writeRaw(#"{"transfer_id":"#)
                json.writeString(event.transferID)
                json.writeRaw(#","amount":"#)
                json.writeInt(Int(event.amount))
                json.writeRaw("}")
            case nil:
                json.writeRaw("null")
            }
            json.writeRaw("}")
        }
        json.writeRaw("]}")
        return json.string
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-12-04T23:01:02.345Z`.
    static func timestamp(_ time: EventTimestamp) -> String {
        let nanoseconds = time.nanosecondsSinceEpoch
        var seconds = time_t(nanoseconds / 1_000_000_000)
        let milliseconds = Int((nanoseconds % 1_000_000_000) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds), 3))Z"
    }
}
