import EventSourcing
import Foundation
import Testing

/// The aggregate as pure values: given events, when a command, then events or a domain error.
@Suite struct AggregateTests {
    func given(_ events: BankEvent...) -> BankAccount { BankAccount.replay(events) }

    @Test func openingANewAccount() throws {
        #expect(try given().decide(.open(owner: "alice")) == [.opened(Opened(owner: "alice"))])
    }

    @Test func openingTwiceIsRefused() {
        #expect(throws: BankError.alreadyOpen) { try given(.opened(Opened(owner: "a"))).decide(.open(owner: "b")) }
    }

    @Test func depositsAndWithdrawals() throws {
        let account = given(.opened(Opened(owner: "a")), .deposited(Deposited(amount: 50)))
        #expect(account.balance == 50)
        #expect(try account.decide(.withdraw(20)) == [.withdrawn(Withdrawn(amount: 20))])
        #expect(throws: BankError.insufficientFunds(balance: 50)) { try account.decide(.withdraw(80)) }
        #expect(throws: BankError.invalidAmount) { try account.decide(.deposit(0)) }
        #expect(throws: BankError.notOpen) { try given().decide(.deposit(5)) }
    }

    @Test func codecRoundTripsEveryEvent() throws {
        let stream = BankAccount.stream("alice")
        let events: [BankEvent] = [
            .opened(Opened(owner: "alice")), .deposited(Deposited(amount: 7)), .withdrawn(Withdrawn(amount: 3)),
        ]
        for (index, event) in events.enumerated() {
            let data = try BankAccount.eventCodec.encode(event)
            let record = RecordedEvent(data, stream: stream, version: UInt64(index + 1), position: UInt64(index + 1))
            #expect(try BankAccount.eventCodec.decode(record) == event)
        }
        let withdrawn = try BankAccount.eventCodec.encode(.withdrawn(Withdrawn(amount: 3)))
        #expect(withdrawn.type == "bank.Withdrawn")
        #expect(withdrawn.payload == Array("3".utf8))
        #expect(try BankAccount.eventCodec.encode(.deposited(Deposited(amount: 1))).schemaVersion == 2)
    }

    @Test func olderSchemasAreUpcast() throws {
        let old = RecordedEvent(
            EventData(type: "bank.Deposited", schemaVersion: 1, payload: Array(#"{"value":12}"#.utf8)),
            stream: BankAccount.stream("a"), version: 2, position: 9)
        #expect(try BankAccount.eventCodec.decode(old) == .deposited(Deposited(amount: 12)))
    }

    @Test func newerSchemasAndUnknownTypesAreCodecErrors() {
        let stream = BankAccount.stream("a")
        let newer = RecordedEvent(
            EventData(type: "bank.Deposited", schemaVersion: 3, payload: Array(#"{"amount":1}"#.utf8)),
            stream: stream, version: 4, position: 9)
        let unknown = RecordedEvent(
            EventData(type: "bank.Closed", payload: []), stream: stream, version: 5, position: 10)
        let corrupt = RecordedEvent(
            EventData(type: "bank.Withdrawn", payload: Array("x".utf8)), stream: stream, version: 6, position: 11)
        for (record, version) in [(newer, 4), (unknown, 5), (corrupt, 6)] {
            #expect {
                _ = try BankAccount.eventCodec.decode(record)
            } throws: { error in
                guard let error = error as? EventStoreError else { return false }
                return error.code == .codec && error.stream == stream && error.version == UInt64(version)
                    && error.eventType == record.type
            }
        }
    }

    @Test func streamNamesAreValidated() {
        #expect(StreamName(aggregateType: "Account", aggregateID: "alice-1").isValid)
        #expect(!StreamName(aggregateType: "Account", aggregateID: "a.b").isValid)
        #expect(!StreamName(aggregateType: "", aggregateID: "a").isValid)
        #expect(!StreamName(aggregateType: "A", aggregateID: "a b").isValid)
        #expect(!StreamName(aggregateType: "A", aggregateID: String(repeating: "x", count: 201)).isValid)
    }
}
