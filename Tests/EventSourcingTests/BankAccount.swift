import Foundation
import EventSourcing

/// The test aggregate: a bank account with an enum of events, one of them at schema version 2.
struct Opened: DomainEvent, Codable, Equatable {
    static let eventType = "bank.Opened"
    var owner: String
}

/// Schema 2 renamed `value` to `amount`; `upcast` turns version-1 payloads into version 2.
struct Deposited: DomainEvent, Codable, Equatable {
    static let eventType = "bank.Deposited"
    static let schemaVersion: UInt32 = 2
    var amount: Int

    static func upcast(_ payload: [UInt8], fromSchemaVersion: UInt32) throws -> [UInt8] {
        Array(String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "\"value\"", with: "\"amount\"").utf8)
    }
}

struct Withdrawn: DomainEvent, Equatable {
    static let eventType = "bank.Withdrawn"
    var amount: Int

    // Encodes itself without Foundation: the amount as decimal text.
    func encodePayload() throws -> [UInt8] { Array(String(amount).utf8) }

    static func decodePayload(_ payload: [UInt8]) throws -> Withdrawn {
        guard let amount = Int(String(decoding: payload, as: UTF8.self)) else { throw BankError.corrupt }
        return Withdrawn(amount: amount)
    }
}

enum BankEvent: Sendable, Equatable {
    case opened(Opened)
    case deposited(Deposited)
    case withdrawn(Withdrawn)
}

enum BankCommand: Sendable {
    case open(owner: String)
    case deposit(Int)
    case withdraw(Int)
}

enum BankError: Error, Equatable {
    case notOpen
    case alreadyOpen
    case insufficientFunds(balance: Int)
    case invalidAmount
    case corrupt
}

struct BankAccount: Aggregate, Codable, Equatable {
    static let aggregateType = "BankAccount"
    static let eventCodec: EventCodec<BankEvent> = {
        var codec = EventCodec<BankEvent> { event in
            switch event {
            case .opened(let e): e
            case .deposited(let e): e
            case .withdrawn(let e): e
            }
        }
        codec.register(Opened.self) { .opened($0) }
        codec.register(Deposited.self) { .deposited($0) }
        codec.register(Withdrawn.self) { .withdrawn($0) }
        return codec
    }()

    var owner: String?
    var balance = 0

    func decide(_ command: BankCommand) throws(BankError) -> [BankEvent] {
        switch command {
        case .open(let owner):
            guard self.owner == nil else { throw .alreadyOpen }
            return [.opened(Opened(owner: owner))]
        case .deposit(let amount):
            guard owner != nil else { throw .notOpen }
            guard amount > 0 else { throw .invalidAmount }
            return [.deposited(Deposited(amount: amount))]
        case .withdraw(let amount):
            guard owner != nil else { throw .notOpen }
            guard amount > 0 else { throw .invalidAmount }
            guard amount <= balance else { throw .insufficientFunds(balance: balance) }
            return [.withdrawn(Withdrawn(amount: amount))]
        }
    }

    mutating func evolve(_ event: BankEvent) {
        switch event {
        case .opened(let e): owner = e.owner
        case .deposited(let e): balance += e.amount
        case .withdrawn(let e): balance -= e.amount
        }
    }
}
