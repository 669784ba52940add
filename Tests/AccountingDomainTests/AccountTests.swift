import AccountingDomain
import EventSourcing
import Testing

/// Given events, when a command, then events or a domain error.
@Suite struct AccountTests {
    func given(_ events: AccountEvent...) -> Account { Account.replay(events) }

    @Test func openThenDepositWithdraw() throws {
        let account = Account()
        #expect(try account.decide(.open(initial: 100)) == [.opened(AccountOpened(initial: 100))])
        let opened = given(.opened(AccountOpened(initial: 100)))
        #expect(try opened.decide(.deposit(amount: 50)) == [.deposited(MoneyDeposited(amount: 50))])
        #expect(try opened.decide(.withdraw(amount: 100)) == [.withdrawn(MoneyWithdrawn(amount: 100))])
        let later = given(
            .opened(AccountOpened(initial: 100)), .deposited(MoneyDeposited(amount: 50)),
            .withdrawn(MoneyWithdrawn(amount: 30)))
        #expect(later.balance == 120)
        #expect(later.isOpen)
    }

    @Test func openTwiceAndUnopenedAccounts() {
        #expect(throws: AccountError.accountExists) {
            try given(.opened(AccountOpened(initial: 0))).decide(.open(initial: 1))
        }
        #expect(throws: AccountError.invalidAmount) { try Account().decide(.open(initial: -1)) }
        for command: AccountCommand in [
            .deposit(amount: 1), .withdraw(amount: 1), .debit(transferID: "t", to: "b", amount: 1),
            .credit(transferID: "t", from: "a", amount: 1), .refund(transferID: "t"),
        ] {
            #expect(throws: AccountError.accountNotFound) { try Account().decide(command) }
        }
    }

    @Test func amountsOutOfRange() {
        let account = given(.opened(AccountOpened(initial: 10)))
        for amount: Int64 in [0, -1, .min] {
            #expect(throws: AccountError.invalidAmount) { try account.decide(.deposit(amount: amount)) }
            #expect(throws: AccountError.invalidAmount) { try account.decide(.withdraw(amount: amount)) }
            #expect(throws: AccountError.invalidAmount) {
                try account.decide(.debit(transferID: "t", to: "b", amount: amount))
            }
        }
    }

    @Test func balanceNeverNegativeNorOverflowing() throws {
        let account = given(.opened(AccountOpened(initial: 10)))
        #expect(throws: AccountError.insufficientFunds(balance: 10)) { try account.decide(.withdraw(amount: 11)) }
        #expect(throws: AccountError.insufficientFunds(balance: 10)) {
            try account.decide(.debit(transferID: "t", to: "b", amount: 11))
        }
        let full = given(.opened(AccountOpened(initial: .max - 5)))
        #expect(throws: AccountError.balanceOverflow(balance: .max - 5)) { try full.decide(.deposit(amount: 6)) }
        #expect(try full.decide(.deposit(amount: 5)) == [.deposited(MoneyDeposited(amount: 5))])
        #expect(throws: AccountError.balanceOverflow(balance: .max - 5)) {
            try full.decide(.credit(transferID: "t", from: "a", amount: 6))
        }
        let max = given(.opened(AccountOpened(initial: .max)))
        #expect(try max.decide(.withdraw(amount: .max)) == [.withdrawn(MoneyWithdrawn(amount: .max))])
    }

    @Test func transferLegsApplyOncePerTransfer() throws {
        let source = given(.opened(AccountOpened(initial: 100)))
        let debit = TransferDebited(transferID: "t1", to: "bob", amount: 40)
        #expect(try source.decide(.debit(transferID: "t1", to: "bob", amount: 40)) == [.transferDebited(debit)])
        let debited = given(.opened(AccountOpened(initial: 100)), .transferDebited(debit))
        #expect(debited.balance == 60)
        #expect(try debited.decide(.debit(transferID: "t1", to: "bob", amount: 40)).isEmpty)
        #expect(throws: AccountError.transferMismatch) {
            try debited.decide(.debit(transferID: "t1", to: "carol", amount: 40))
        }
        #expect(
            try debited.decide(.refund(transferID: "t1")) == [
                .transferRefunded(TransferRefunded(transferID: "t1", amount: 40))
            ])
        let refunded = given(
            .opened(AccountOpened(initial: 100)), .transferDebited(debit),
            .transferRefunded(TransferRefunded(transferID: "t1", amount: 40)))
        #expect(refunded.balance == 100)
        #expect(try refunded.decide(.refund(transferID: "t1")).isEmpty)
        #expect(throws: AccountError.unknownTransfer) { try refunded.decide(.refund(transferID: "t2")) }

        let destination = given(.opened(AccountOpened(initial: 0)))
        let credit = TransferCredited(transferID: "t1", from: "alice", amount: 40)
        #expect(
            try destination.decide(.credit(transferID: "t1", from: "alice", amount: 40)) == [.transferCredited(credit)])
        let credited = given(.opened(AccountOpened(initial: 0)), .transferCredited(credit))
        #expect(credited.balance == 40)
        #expect(try credited.decide(.credit(transferID: "t1", from: "alice", amount: 40)).isEmpty)
    }

    @Test func snapshotRoundTrip() throws {
        let account = given(
            .opened(AccountOpened(initial: 100)),
            .transferDebited(TransferDebited(transferID: "t1", to: "bob", amount: 40)),
            .transferDebited(TransferDebited(transferID: "t2", to: "é", amount: 1)),
            .transferRefunded(TransferRefunded(transferID: "t1", amount: 40)),
            .transferCredited(TransferCredited(transferID: "t3", from: "carol", amount: 7)))
        let decoded = try Account(snapshotPayload: account.snapshotPayload())
        #expect(decoded == account)
        #expect(throws: PayloadError.self) { try Account(snapshotPayload: Array(account.snapshotPayload().dropLast())) }
    }
}

@Suite struct AccountEventCodingTests {
    let events: [AccountEvent] = [
        .opened(AccountOpened(initial: 0)), .opened(AccountOpened(initial: .max)),
        .deposited(MoneyDeposited(amount: 1)), .deposited(MoneyDeposited(amount: .max)),
        .withdrawn(MoneyWithdrawn(amount: 12_345)),
        .transferDebited(TransferDebited(transferID: "tx-1", to: "bob", amount: 5)),
        .transferCredited(TransferCredited(transferID: "tx-1", from: "ålice \"q\"", amount: 5)),
        .transferRefunded(TransferRefunded(transferID: "", amount: .max)),
    ]

    @Test func stableTypeNames() throws {
        let names = try events.map { try AccountEvent.codec.encode($0).type }
        #expect(
            names == [
                "AccountOpened", "AccountOpened", "MoneyDeposited", "MoneyDeposited", "MoneyWithdrawn",
                "TransferDebited", "TransferCredited", "TransferRefunded",
            ])
    }

    @Test func roundTripThroughTheCodec() throws {
        let stream = StreamName(aggregateType: "account", aggregateID: "alice")
        for (index, event) in events.enumerated() {
            let data = try AccountEvent.codec.encode(event)
            let record = RecordedEvent(data, stream: stream, version: UInt64(index + 1), position: UInt64(index + 1))
            #expect(try AccountEvent.codec.decode(record) == event)
        }
    }

    @Test func directEncodingAndDecodingAgreeWithTheCodec() throws {
        let stream = StreamName(aggregateType: "account", aggregateID: "alice")
        let metadata = EventMetadata(idempotencyKey: "k-1")
        for (index, event) in events.enumerated() {
            let id = EventID.next()
            let at = EventTimestamp.now()
            let direct = event.eventData(id: id, occurredAt: at, metadata: metadata)
            #expect(direct == (try AccountEvent.codec.encode(event, id: id, occurredAt: at, metadata: metadata)))
            let record = RecordedEvent(direct, stream: stream, version: UInt64(index + 1), position: UInt64(index + 1))
            #expect(try AccountEvent.decode(record) == event)
            #expect(AccountEvent.decodeCurrent(type: record.type, schemaVersion: 1, payload: record.payload) == event)
            // Another schema version than the code's goes through the codec, which refuses a newer one.
            var newer = record
            newer.schemaVersion = 2
            #expect(AccountEvent.decodeCurrent(type: newer.type, schemaVersion: 2, payload: newer.payload) == nil)
            #expect(throws: EventStoreError.self) { try AccountEvent.decode(newer) }
            // Malformed payloads are codec errors on the direct path too.
            var broken = record
            broken.payload += [0]
            #expect(AccountEvent.decodeCurrent(type: broken.type, schemaVersion: 1, payload: broken.payload) == nil)
            #expect(throws: EventStoreError.self) { try AccountEvent.decode(broken) }
        }
        var unknown = RecordedEvent(events[0].eventData(id: .next()), stream: stream, version: 1, position: 1)
        unknown.type = "SomethingElse"
        #expect(throws: EventStoreError.self) { try AccountEvent.decode(unknown) }
    }

    @Test func malformedPayloadsAreCodecErrors() throws {
        let stream = StreamName(aggregateType: "account", aggregateID: "alice")
        for event in events {
            let data = try AccountEvent.codec.encode(event)
            var negative = data
            negative.payload = MoneyDeposited(amount: -5).encodePayload()
            let variants = [data.payload + [0], Array(data.payload.dropLast())]
            let refused = RecordedEvent(negative, stream: stream, version: 1, position: 1)
            #expect(throws: EventStoreError.self) { try AccountEvent.codec.decode(refused) }
            for payload in variants {
                var broken = data
                broken.payload = payload
                let record = RecordedEvent(broken, stream: stream, version: 1, position: 1)
                #expect(throws: EventStoreError.self) { try AccountEvent.codec.decode(record) }
            }
        }
    }

    @Test func writerAndReader() throws {
        let values: [Int64] = [0, 1, -1, 63, -64, 64, 127, 128, 300, .max, .min, .max - 1, .min + 1]
        var writer = PayloadWriter()
        for value in values { writer.write(value) }
        writer.write("")
        writer.write("zwölf €")
        var reader = PayloadReader(writer.bytes)
        for value in values { #expect(try reader.readInt64() == value) }
        #expect(try reader.readString() == "")
        #expect(try reader.readString() == "zwölf €")
        try reader.finish()
        // Eleven continuation bytes, a string past the end, invalid UTF-8.
        var tooLong = PayloadReader([UInt8](repeating: 0x80, count: 11) + [0])
        #expect(throws: PayloadError.self) { try tooLong.readVarint() }
        var past = PayloadReader([5, 0x61])
        #expect(throws: PayloadError.self) { try past.readString() }
        var invalid = PayloadReader([2, 0xC3, 0x28])
        #expect(throws: PayloadError.self) { try invalid.readString() }
        var overflow = PayloadReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02])
        #expect(throws: PayloadError.self) { try overflow.readVarint() }
    }
}
