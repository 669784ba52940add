import AccountingDomain
import ClstrRuntime
import EventSourcing
import Logging
import Synchronization

/// How a transfer ended, for the HTTP answer.
enum TransferOutcome: Sendable {
    /// Both legs done.
    case done(fromBalance: Int64, toBalance: Int64)
    /// Refused by `account`; nothing moved (a debit already made was refunded).
    case refused(AccountError, account: String)
}

/// One transfer driven through its legs over the cluster: check the destination, debit the source (the event
/// names the transfer), credit the destination, refund the source if the credit is refused. Each leg is
/// idempotent per transfer ID (the aggregate applies it at most once), so a run may repeat legs another run made.
///
/// The phase travels as the request context, so the run keeps only the source's balance between legs.
final class TransferRun: ReplyHandler {
    private enum Phase: UInt64 {
        case checked = 0
        case debited = 1
        case credited = 2
        case refunded = 3
    }

    let client: ClusterClient
    let transferID: String
    let from: String
    let to: String
    let amount: Int64
    /// Where the final outcome goes (`.success(TransferOutcome)` or `.failure(RequestError)`).
    let replyTo: any ReplyHandler
    let context: UInt64
    private let fromBalance = Atomic<Int64>(0)

    init(
        client: ClusterClient, transferID: String, from: String, to: String, amount: Int64,
        replyTo: any ReplyHandler, context: UInt64
    ) {
        self.client = client
        self.transferID = transferID
        self.from = from
        self.to = to
        self.amount = amount
        self.replyTo = replyTo
        self.context = context
    }

    /// The idempotency key of every leg of this transfer: a repeated leg answers as the first did.
    private var legKey: String { "transfer:" + transferID }

    /// Starts from the beginning (the HTTP path).
    func start() {
        client.request(GetAccount(), key: to, replyTo: self, context: Phase.checked.rawValue)
    }

    /// Completes a transfer whose debit is stored (the process manager): credit, refund if refused.
    func resumeAfterDebit() {
        client.request(
            AccountCommandRequest(.credit(transferID: transferID, from: from, amount: amount), idempotencyKey: legKey),
            key: to, replyTo: self, context: Phase.credited.rawValue)
    }

    func deliver(_ reply: Outcome, context phaseContext: UInt64) {
        let refusal = phaseContext >> 8
        guard let phase = Phase(rawValue: phaseContext & 0xFF) else { return }
        let answer: AccountReply
        switch reply.decode(as: AccountReply.self) {
        case .success(let value): answer = value
        case .failure(let error): return finish(.failure(error))
        }
        switch phase {
        case .checked:
            if let error = answer.domainError { return finish(.success(TransferOutcome.refused(error, account: to))) }
            client.request(
                AccountCommandRequest(.debit(transferID: transferID, to: to, amount: amount), idempotencyKey: legKey),
                key: from, replyTo: self, context: Phase.debited.rawValue)
        case .debited:
            if let error = answer.domainError { return finish(.success(TransferOutcome.refused(error, account: from))) }
            // Relaxed: the next phase's delivery is ordered after this one by the request it sends.
            fromBalance.store(answer.balance, ordering: .relaxed)
            resumeAfterDebit()
        case .credited:
            if let error = answer.domainError {
                let code = UInt64(Self.refusals.firstIndex(of: error.code) ?? 0)
                return client.request(
                    AccountCommandRequest(.refund(transferID: transferID), idempotencyKey: legKey + ":refund"),
                    key: from, replyTo: self, context: Phase.refunded.rawValue | (code << 8))
            }
            finish(
                .success(
                    TransferOutcome.done(fromBalance: fromBalance.load(ordering: .relaxed), toBalance: answer.balance)))
        case .refunded:
            if let error = answer.domainError {
                return finish(
                    .failure(RequestError(.handlerFailed, "refund of transfer \(transferID) refused: \(error)")))
            }
            let code = Self.refusals[Int(min(refusal, UInt64(Self.refusals.count - 1)))]
            let error = AccountError(code: code, balance: 0) ?? .accountNotFound
            finish(.success(TransferOutcome.refused(error, account: to)))
        }
    }

    /// The credit refusals a refund can follow, by index (carried in the context's upper bits).
    private static let refusals = [
        AccountError.accountNotFound.code, AccountError.balanceOverflow(balance: 0).code,
        AccountError.invalidAmount.code, AccountError.transferMismatch.code,
    ]

    private func finish(_ outcome: Outcome) {
        replyTo.deliver(outcome, context: context)
    }
}

/// Completes transfers a crash interrupted: follows the global log, remembers every debit without a credit or
/// refund, and after a grace period (the HTTP path finishes in milliseconds) resumes it with a ``TransferRun``.
/// Resuming is idempotent: the legs apply at most once per transfer ID.
final class TransferProcessManager: Sendable {
    struct Pending: Sendable {
        var from: String
        var to: String
        var amount: Int64
        var debitedAt: EventTimestamp
        var attempts = 0
    }

    /// Its own log follower, or nil when another one feeds ``apply(_:)`` (see `StatsProjection`).
    let follower: LogFollower?
    private let pending: PendingTransfers
    private let client: ClusterClient
    private let logger: Logger
    private let ticker: BackgroundTicker
    let grace: Duration

    /// - Parameters:
    ///   - ownFollower: false when the caller feeds the log's batches to ``apply(_:)`` from a follower it shares.
    init(
        store: any EventStore, client: ClusterClient, logger: Logger, grace: Duration = .seconds(2),
        ownFollower: Bool = true
    ) {
        let pending = PendingTransfers()
        self.pending = pending
        self.client = client
        self.logger = logger
        self.grace = grace
        follower =
            ownFollower
            ? LogFollower(store: store, interval: .milliseconds(50)) { events in pending.apply(events) } : nil
        let sweep = PendingSweep(pending: pending, client: client, logger: logger, grace: grace)
        ticker = BackgroundTicker(interval: .milliseconds(500)) { sweep.run() }
    }

    func start() { follower?.start() }

    func stop() {
        ticker.stop()
        follower?.stop()
    }

    /// Takes a batch of the global log, in order (from a shared follower).
    func apply(_ events: [RecordedEvent]) { pending.apply(events) }

    /// Transfers debited and not yet credited or refunded.
    var pendingCount: Int { pending.state.withLock { $0.count } }
}

/// The process manager's table of open transfers.
final class PendingTransfers: Sendable {
    let state = Mutex<[String: TransferProcessManager.Pending]>([:])

    func apply(_ records: [RecordedEvent]) {
        var debits: [(String, TransferProcessManager.Pending)] = []
        var closed: [String] = []
        // By index: `for record in records` copied every record (its nine fields) before looking at it.
        for index in records.indices {
            // Only the transfer legs matter here: the type name is compared before anything is decoded. Most of
            // the log is deposits: their name, equal to the stored literal, is recognised first by its raw bits.
            switch records[index].type {
            case MoneyDeposited.eventType, MoneyWithdrawn.eventType, AccountOpened.eventType: continue
            case TransferDebited.eventType, TransferCredited.eventType, TransferRefunded.eventType: break
            default: continue
            }
            let record = records[index]
            switch try? AccountEvent.decode(record) {
            case .transferDebited(let event)?:
                debits.append(
                    (
                        event.transferID,
                        TransferProcessManager.Pending(
                            from: record.stream.aggregateID, to: event.to, amount: event.amount,
                            debitedAt: record.occurredAt)
                    ))
            case .transferCredited(let event)?: closed.append(event.transferID)
            case .transferRefunded(let event)?: closed.append(event.transferID)
            default: break
            }
        }
        state.withLock { table in
            for (id, debit) in debits { table[id] = debit }
            for id in closed { table[id] = nil }
        }
    }
}

/// One sweep of the process manager: resumes the transfers open longer than the grace period.
struct PendingSweep: Sendable {
    let pending: PendingTransfers
    let client: ClusterClient
    let logger: Logger
    let grace: Duration

    func run() {
        let now = EventTimestamp.now().nanosecondsSinceEpoch
        let graceNanoseconds = grace.components.seconds * 1_000_000_000 + grace.components.attoseconds / 1_000_000_000
        let due = pending.state.withLock { table -> [(String, TransferProcessManager.Pending)] in
            var due: [(String, TransferProcessManager.Pending)] = []
            for (id, entry) in table where now - entry.debitedAt.nanosecondsSinceEpoch > graceNanoseconds {
                // Back off: the n-th attempt waits n grace periods more.
                if now - entry.debitedAt.nanosecondsSinceEpoch > graceNanoseconds * Int64(1 + entry.attempts) {
                    table[id]?.attempts += 1
                    due.append((id, entry))
                }
            }
            return due
        }
        for (id, entry) in due {
            logger.info(
                "resuming interrupted transfer",
                metadata: [
                    "transfer": "\(id)", "from": "\(entry.from)", "to": "\(entry.to)", "amount": "\(entry.amount)",
                ])
            TransferRun(
                client: client, transferID: id, from: entry.from, to: entry.to, amount: entry.amount,
                replyTo: TransferLog(logger: logger, transferID: id), context: 0
            ).resumeAfterDebit()
        }
    }
}

/// Logs how a resumed transfer ended.
final class TransferLog: ReplyHandler {
    let logger: Logger
    let transferID: String

    init(logger: Logger, transferID: String) {
        self.logger = logger
        self.transferID = transferID
    }

    func deliver(_ reply: Outcome, context: UInt64) {
        switch reply {
        case .success(let value):
            logger.info("transfer completed", metadata: ["transfer": "\(transferID)", "outcome": "\(value)"])
        case .failure(let error):
            logger.warning("transfer still open", metadata: ["transfer": "\(transferID)", "error": "\(error)"])
        }
    }
}
