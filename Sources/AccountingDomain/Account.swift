/// The state of one bank account, rebuilt by folding its events with ``evolve(_:)``; commands are decided against it
/// with ``decide(_:)``. Pure values: no store, no actor.
///
/// Invariants kept by `decide`: a balance is never negative and never passes `Int64.max`; every amount is in
/// 1…Int64.max; a transfer leg is applied at most once per transfer ID (a repeated leg decides no events), so a
/// process manager may repeat legs safely.
public struct Account: Sendable, Equatable {
    /// Whether `AccountOpened` was applied.
    public var isOpen = false
    /// The balance (≥ 0).
    public var balance: Int64 = 0
    /// Transfers debited from this account: transfer ID → destination and amount.
    public var debits: [String: TransferLeg] = [:]
    /// Transfers credited to this account.
    public var credits: Set<String> = []
    /// Debited transfers whose money came back.
    public var refunds: Set<String> = []

    public init() {}

    /// One side of a transfer as an account remembers it.
    public struct TransferLeg: Sendable, Equatable {
        /// The other account.
        public var counterparty: String
        public var amount: Int64

        public init(counterparty: String, amount: Int64) {
            self.counterparty = counterparty
            self.amount = amount
        }
    }

    /// Applies one event (never fails: events are facts; arithmetic wraps only if the log was forged).
    public mutating func evolve(_ event: AccountEvent) {
        switch event {
        case .opened(let event):
            isOpen = true
            balance = event.initial
        case .deposited(let event):
            balance &+= event.amount
        case .withdrawn(let event):
            balance &-= event.amount
        case .transferDebited(let event):
            balance &-= event.amount
            debits[event.transferID] = TransferLeg(counterparty: event.to, amount: event.amount)
        case .transferCredited(let event):
            balance &+= event.amount
            credits.insert(event.transferID)
        case .transferRefunded(let event):
            balance &+= event.amount
            refunds.insert(event.transferID)
        }
    }

    /// The state after `events`.
    public static func replay(_ events: some Sequence<AccountEvent>) -> Account {
        var account = Account()
        for event in events { account.evolve(event) }
        return account
    }

    /// Decides what a command does: the events to append (empty when it was already done), or why not.
    /// - Parameter command: the command.
    /// - Returns: the events, in order.
    /// - Throws: ``AccountError``.
    public func decide(_ command: AccountCommand) throws(AccountError) -> [AccountEvent] {
        guard let event = try decideEvent(command) else { return [] }
        return [event]
    }

    /// ``decide(_:)`` for the commands of this aggregate, each of which decides at most one event: without the
    /// array (an allocation per command on the entity's hot path).
    /// - Parameter command: the command.
    /// - Returns: the event to append, or nil when the command was already done.
    /// - Throws: ``AccountError``.
    public func decideEvent(_ command: AccountCommand) throws(AccountError) -> AccountEvent? {
        switch command {
        case .open(let initial):
            guard !isOpen else { throw .accountExists }
            guard initial >= 0 else { throw .invalidAmount }
            return .opened(AccountOpened(initial: initial))
        case .deposit(let amount):
            guard isOpen else { throw .accountNotFound }
            guard amount > 0 else { throw .invalidAmount }
            guard balance <= Int64.max - amount else { throw .balanceOverflow(balance: balance) }
            return .deposited(MoneyDeposited(amount: amount))
        case .withdraw(let amount):
            guard isOpen else { throw .accountNotFound }
            guard amount > 0 else { throw .invalidAmount }
            guard amount <= balance else { throw .insufficientFunds(balance: balance) }
            return .withdrawn(MoneyWithdrawn(amount: amount))
        case .debit(let transferID, let to, let amount):
            guard isOpen else { throw .accountNotFound }
            guard amount > 0 else { throw .invalidAmount }
            if let done = debits[transferID] {
                guard done.counterparty == to && done.amount == amount else { throw .transferMismatch }
                return nil
            }
            guard amount <= balance else { throw .insufficientFunds(balance: balance) }
            return .transferDebited(TransferDebited(transferID: transferID, to: to, amount: amount))
        case .credit(let transferID, let from, let amount):
            guard isOpen else { throw .accountNotFound }
            guard amount > 0 else { throw .invalidAmount }
            if credits.contains(transferID) { return nil }
            guard balance <= Int64.max - amount else { throw .balanceOverflow(balance: balance) }
            return .transferCredited(TransferCredited(transferID: transferID, from: from, amount: amount))
        case .refund(let transferID):
            guard isOpen else { throw .accountNotFound }
            guard let debit = debits[transferID] else { throw .unknownTransfer }
            if refunds.contains(transferID) { return nil }
            guard balance <= Int64.max - debit.amount else { throw .balanceOverflow(balance: balance) }
            return .transferRefunded(TransferRefunded(transferID: transferID, amount: debit.amount))
        }
    }
}

/// What can be asked of an account.
public enum AccountCommand: Sendable, Equatable {
    /// Open with an initial balance (0…Int64.max).
    case open(initial: Int64)
    case deposit(amount: Int64)
    case withdraw(amount: Int64)
    // The transfer legs are indirect (boxed): a command is then nine bytes, and a request carrying one fits an
    // existential's inline buffer (no allocation per deposit when it crosses the cluster client in process).
    /// Transfer leg 1, on the source: take `amount` for `to` (once per transfer ID).
    indirect case debit(transferID: String, to: String, amount: Int64)
    /// Transfer leg 2, on the destination: receive `amount` from `from` (once per transfer ID).
    indirect case credit(transferID: String, from: String, amount: Int64)
    /// Compensation, on the source: give back what the transfer debited (once per transfer ID).
    indirect case refund(transferID: String)
}

/// Why an account refused a command. Nothing was appended.
public enum AccountError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `open` on an open account.
    case accountExists
    /// Any other command on an account never opened.
    case accountNotFound
    /// An amount outside 1…Int64.max (an initial balance outside 0…Int64.max).
    case invalidAmount
    /// The balance is smaller than the amount asked for.
    case insufficientFunds(balance: Int64)
    /// The balance would pass Int64.max.
    case balanceOverflow(balance: Int64)
    /// A refund of a transfer this account never debited.
    case unknownTransfer
    /// A transfer ID reused with another destination or amount.
    case transferMismatch

    /// A stable code (travels across the cluster; chosen by the HTTP layer for its status).
    public var code: String {
        switch self {
        case .accountExists: "account_exists"
        case .accountNotFound: "account_not_found"
        case .invalidAmount: "invalid_amount"
        case .insufficientFunds: "insufficient_funds"
        case .balanceOverflow: "balance_overflow"
        case .unknownTransfer: "unknown_transfer"
        case .transferMismatch: "transfer_mismatch"
        }
    }

    public var description: String {
        switch self {
        case .accountExists: "account exists"
        case .accountNotFound: "account not found"
        case .invalidAmount: "amount must be an integer in 1…\(Int64.max)"
        case .insufficientFunds: "insufficient funds"
        case .balanceOverflow: "balance would overflow"
        case .unknownTransfer: "unknown transfer"
        case .transferMismatch: "transfer ID reused with another destination or amount"
        }
    }

    /// The balance the error reports (insufficient funds, overflow), if any.
    public var balance: Int64? {
        switch self {
        case .insufficientFunds(let balance), .balanceOverflow(let balance): balance
        default: nil
        }
    }

    /// The error of a code and balance (the inverse of ``code``), or nil for an unknown code.
    public init?(code: String, balance: Int64) {
        switch code {
        case "account_exists": self = .accountExists
        case "account_not_found": self = .accountNotFound
        case "invalid_amount": self = .invalidAmount
        case "insufficient_funds": self = .insufficientFunds(balance: balance)
        case "balance_overflow": self = .balanceOverflow(balance: balance)
        case "unknown_transfer": self = .unknownTransfer
        case "transfer_mismatch": self = .transferMismatch
        default: return nil
        }
    }
}
