import EventSourcing
import GRDB

/// Consumer checkpoints and parked events live in the store file (`checkpoints`, `parked_events`). Saves go
/// through the group-commit writer (durable when they complete); loads run on a reader connection.
extension SQLiteEventStore {
    public func loadCheckpoint(
        consumer: String, completion: @escaping @Sendable (Result<UInt64?, EventStoreError>) -> Void
    ) {
        guard StreamName.isValidPart(consumer) else { return completion(.failure(Self.invalidConsumer(consumer))) }
        if isClosed { return completion(.failure(Self.closedError(nil))) }
        pool.asyncRead { result in
            completion(
                Result { () throws(EventStoreError) -> UInt64? in
                    let db = try Self.reader(result)
                    do {
                        return try Int64.fetchOne(
                            db, sql: "SELECT position FROM checkpoints WHERE consumer = ?", arguments: [consumer]
                        ).map { UInt64(bitPattern: $0) }
                    } catch {
                        throw GroupCommitWriter.backendError(error, "checkpoint load")
                    }
                })
        }
    }

    public func saveCheckpoint(
        consumer: String, position: UInt64, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void
    ) {
        guard StreamName.isValidPart(consumer) else { return completion(.failure(Self.invalidConsumer(consumer))) }
        let request = WriteRequest.saveCheckpoint(consumer: consumer, position: position, completion)
        if !writer.requests.post(request) { request.fail(Self.closedError(nil), metrics: metrics) }
    }

    public func park(_ event: ParkedEvent, completion: @escaping @Sendable (Result<Void, EventStoreError>) -> Void) {
        guard StreamName.isValidPart(event.consumer) else {
            return completion(.failure(Self.invalidConsumer(event.consumer)))
        }
        let request = WriteRequest.park(event, completion)
        if !writer.requests.post(request) { request.fail(Self.closedError(event.stream), metrics: metrics) }
    }

    public func parkedEvents(
        consumer: String, completion: @escaping @Sendable (Result<[ParkedEvent], EventStoreError>) -> Void
    ) {
        guard StreamName.isValidPart(consumer) else { return completion(.failure(Self.invalidConsumer(consumer))) }
        if isClosed { return completion(.failure(Self.closedError(nil))) }
        pool.asyncRead { result in
            completion(
                Result { () throws(EventStoreError) -> [ParkedEvent] in
                    let db = try Self.reader(result)
                    do {
                        let rows = try Row.fetchAll(
                            db,
                            sql: """
                                SELECT position, stream_type, stream_id, version, event_type, attempts, last_error, \
                                parked_at FROM parked_events WHERE consumer = ? ORDER BY position
                                """,
                            arguments: [consumer])
                        return rows.map { row in
                            ParkedEvent(
                                consumer: consumer, position: UInt64(bitPattern: row[0]),
                                stream: StreamName(aggregateType: row[1], aggregateID: row[2]),
                                version: UInt64(bitPattern: row[3]), eventType: row[4], attempts: row[5],
                                lastError: row[6], parkedAt: EventTimestamp(nanosecondsSinceEpoch: row[7]))
                        }
                    } catch {
                        throw GroupCommitWriter.backendError(error, "parked events load")
                    }
                })
        }
    }

    static func invalidConsumer(_ consumer: String) -> EventStoreError {
        EventStoreError(.invalidArgument, "invalid consumer name \(consumer)")
    }
}
