import EventSourcing

extension JetStreamEventStore {
    /// A commit read back: its stream sequence, header and events.
    struct DecodedCommit {
        var sequence: UInt64
        var header: CommitRecord.Header
        var events: [EventData]
    }

    /// Direct gets made one by one before a read switches to an ordered consumer (one round trip each, against
    /// the consumer's setup of a few round trips).
    static var directGetSteps: Int { 4 }

    /// Worker: the subject's last commit, or `nil` when the stream has no events.
    func lastCommit(of stream: StreamName, subject: String) throws(EventStoreError) -> DecodedCommit? {
        let message: JetStreamContext.StoredMessage?
        do throws(NATSError) {
            message = try context.directGetLast(stream: configuration.streamName, subject: subject)
        } catch {
            throw Self.readError(error, stream: stream)
        }
        guard let message else { return nil }
        return try decode(message, stream: stream)
    }

    /// Worker: the message at `sequence`, or `nil` when there is none (deleted).
    func readMessage(sequence: UInt64, stream: StreamName?) throws(EventStoreError) -> JetStreamContext.StoredMessage? {
        do throws(NATSError) {
            return try context.directGet(stream: configuration.streamName, sequence: sequence)
        } catch {
            throw Self.readError(error, stream: stream)
        }
    }

    /// Decodes a commit message (a codec error names the stream, the version and "commit record").
    func decode(
        _ message: JetStreamContext.StoredMessage, stream: StreamName?
    ) throws(EventStoreError)
        -> DecodedCommit
    {
        let name = stream ?? streamName(ofSubject: message.subject)
        do throws(CommitRecord.Malformed) {
            let (header, events) = try CommitRecord.decode(message.payload)
            return DecodedCommit(sequence: message.sequence, header: header, events: events)
        } catch {
            let version = (try? CommitRecord.header(message.payload))?.firstVersion ?? 0
            var failure = EventStoreError.codec(
                stream: name ?? StreamName(aggregateType: "?", aggregateID: message.subject), version: version,
                type: "commit record",
                "undecodable JetStream message at stream sequence \(message.sequence): \(error.reason)")
            if name == nil { failure.stream = nil }
            throw failure
        }
    }

    /// Worker: calls `body` with the messages on `subject` (wildcards allowed) from `sequence` through `last`
    /// (both stream sequences), in order, until it returns false: the first few by direct get, the rest through an
    /// ordered consumer.
    func walk(
        subject: String, from sequence: UInt64, through last: UInt64,
        _ body: (JetStreamContext.StoredMessage) throws(EventStoreError) -> Bool
    ) throws(EventStoreError) {
        var next = max(1, sequence)
        var steps = 0
        while next <= last {
            if steps == Self.directGetSteps {
                var failure: EventStoreError?
                do throws(NATSError) {
                    try context.readOrdered(
                        stream: configuration.streamName, subject: subject, startSequence: next,
                        timeout: configuration.readTimeout
                    ) { message in
                        guard message.sequence <= last else { return false }
                        do throws(EventStoreError) {
                            return try body(message) && message.sequence < last
                        } catch {
                            failure = error
                            return false
                        }
                    }
                } catch {
                    throw Self.readError(error)
                }
                if let failure { throw failure }
                return
            }
            let found: JetStreamContext.StoredMessage?
            do throws(NATSError) {
                found = try context.directGet(stream: configuration.streamName, sequence: next, nextBySubject: subject)
            } catch {
                throw Self.readError(error)
            }
            guard let message = found, message.sequence <= last else { return }
            steps += 1
            next = message.sequence + 1
            guard try body(message) else { return }
        }
    }

    public func read(
        stream: StreamName, from version: UInt64, maxCount: Int, completion: @escaping ReadCompletion
    ) {
        // Relaxed: a best-effort gate (see `close()`); the flag guards no other data.
        guard !isClosed.load(ordering: .relaxed) else { return completion(.failure(Self.closedError)) }
        guard stream.isValid else {
            return completion(
                .failure(EventStoreError(.invalidArgument, "invalid stream name \(stream)", stream: stream)))
        }
        guard maxCount >= 1 else {
            return completion(.failure(EventStoreError(.invalidArgument, "maxCount must be ≥ 1", stream: stream)))
        }
        worker.async { [self] in
            do throws(EventStoreError) {
                completion(.success(try readStream(stream, from: max(1, version), maxCount: maxCount)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Worker: the body of ``read(stream:from:maxCount:completion:)``.
    private func readStream(
        _ stream: StreamName, from version: UInt64, maxCount: Int
    ) throws(EventStoreError)
        -> [RecordedEvent]
    {
        let subject = subject(of: stream)
        guard let last = try lastCommit(of: stream, subject: subject) else { return [] }
        remember(stream, Tip(version: last.header.lastVersion, sequence: last.sequence))
        guard version <= last.header.lastVersion else { return [] }
        var result: [RecordedEvent] = []
        func take(_ commit: DecodedCommit) -> Bool {
            let count = commit.header.count
            for (index, event) in commit.events.enumerated() {
                let eventVersion = commit.header.firstVersion + UInt64(index)
                guard eventVersion >= version else { continue }
                guard result.count < maxCount else { return false }
                result.append(
                    RecordedEvent(
                        event, stream: stream, version: eventVersion,
                        position: Self.position(sequence: commit.sequence, index: index, count: count)))
            }
            return result.count < maxCount
        }
        if version >= last.header.firstVersion {
            _ = take(last)
            return result
        }
        let start = try firstSequence(holding: version, subject: subject, stream: stream, through: last.sequence)
        try walk(subject: subject, from: start, through: last.sequence) { (message) throws(EventStoreError) -> Bool in
            let header: CommitRecord.Header
            do throws(CommitRecord.Malformed) {
                header = try CommitRecord.header(message.payload)
            } catch {
                _ = try decode(message, stream: stream)  // throws the codec error
                return false
            }
            if header.lastVersion < version { return true }  // before the range: skip without decoding
            return take(try decode(message, stream: stream))
        }
        return result
    }

    /// Worker: a stream sequence at or before the commit holding `version` of the stream on `subject`, found by
    /// bisecting the stream sequences with direct gets (`NextBySubject`) when the stream is long: a tail read
    /// after a snapshot costs about log₂(commits) round trips instead of a scan from the stream's first commit.
    func firstSequence(
        holding version: UInt64, subject: String, stream: StreamName, through last: UInt64
    )
        throws(EventStoreError) -> UInt64
    {
        var low: UInt64 = 1
        var high = last
        // Below this span a walk is cheaper than more probes.
        while high - low > 256 {
            let middle = low + (high - low) / 2
            let found: JetStreamContext.StoredMessage?
            do throws(NATSError) {
                found = try context.directGet(
                    stream: configuration.streamName, sequence: middle, nextBySubject: subject)
            } catch {
                throw Self.readError(error, stream: stream)
            }
            guard let found, found.sequence <= high else { return low }
            let header: CommitRecord.Header
            do throws(CommitRecord.Malformed) {
                header = try CommitRecord.header(found.payload)
            } catch {
                return low  // the walk reports the codec error with its context
            }
            if header.lastVersion < version {
                low = found.sequence + 1
            } else {
                high = found.sequence
            }
        }
        return low
    }

    public func readAll(from position: UInt64, maxCount: Int, completion: @escaping ReadCompletion) {
        // Relaxed: a best-effort gate (see `close()`); the flag guards no other data.
        guard !isClosed.load(ordering: .relaxed) else { return completion(.failure(Self.closedError)) }
        guard maxCount >= 1 else {
            return completion(.failure(EventStoreError(.invalidArgument, "maxCount must be ≥ 1")))
        }
        worker.async { [self] in
            do throws(EventStoreError) {
                completion(.success(try readLog(from: max(1, position), maxCount: maxCount)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Direct gets a log read makes before it asks for the stream's last sequence and reads the rest with
    /// ``walk(subject:from:through:_:)`` (a few more direct gets, then an ordered consumer). A follower polling the log (a projection) usually finds a few commits: it then reads them
    /// and the end (a direct get that finds nothing) in as many round trips, with no `STREAM.INFO` and no
    /// consumer made and deleted per poll (which had cost nats-server more than the commits themselves).
    static var logDirectGetSteps: Int { 32 }

    /// Worker: the body of ``readAll(from:maxCount:completion:)``.
    private func readLog(from position: UInt64, maxCount: Int) throws(EventStoreError) -> [RecordedEvent] {
        let startSequence = max(1, position >> 16)
        let startIndex = position >> 16 == 0 ? 0 : position & 0xFFFF
        var result: [RecordedEvent] = []
        let subject = subjectPrefix + ">"
        func take(_ message: JetStreamContext.StoredMessage) throws(EventStoreError) -> Bool {
            let stream = streamName(ofSubject: message.subject)
            let commit = try decode(message, stream: stream)
            // Not an event subject: cannot happen, the stream captures only them.
            guard let stream else { return true }
            let count = commit.header.count
            for (index, event) in commit.events.enumerated() {
                let eventPosition = Self.position(sequence: commit.sequence, index: index, count: count)
                if commit.sequence == startSequence, eventPosition & 0xFFFF < startIndex { continue }
                guard result.count < maxCount else { return false }
                result.append(
                    RecordedEvent(
                        event, stream: stream, version: commit.header.firstVersion + UInt64(index),
                        position: eventPosition))
            }
            return result.count < maxCount
        }
        // The first commits one by one, up to the end of the log (a direct get finding nothing); this process's
        // recent commits from memory.
        var next = startSequence
        let epoch = keepsRecentCommits.load(ordering: .relaxed) ? context.connection.reconnects : nil
        var directGets = 0
        while directGets < Self.logDirectGetSteps {
            let found: JetStreamContext.StoredMessage?
            if let epoch, let cached = recentCommits.message(at: next, epoch: epoch) {
                found = cached
            } else {
                directGets += 1
                do throws(NATSError) {
                    found = try context.directGet(
                        stream: configuration.streamName, sequence: next, nextBySubject: subject)
                } catch {
                    throw Self.readError(error)
                }
            }
            guard let message = found else { return result }
            next = message.sequence + 1
            guard try take(message) else { return result }
        }
        // A long backlog: the rest, up to the last sequence now, through an ordered consumer.
        let last: UInt64
        do throws(NATSError) {
            last = try context.lastSequence(stream: configuration.streamName)
        } catch {
            throw Self.readError(error)
        }
        guard next <= last else { return result }
        try walk(subject: subject, from: next, through: last, take)
        return result
    }
}
