import AccountingDomain
import ClstrRuntime
import Testing

@testable import AccountingService

/// The account messages' shapes that the hot path relies on, and their wire round trips.
@Suite struct AccountMessagesTests {
    /// A command request and a reply fit an existential's inline buffer (three words): the in-process cluster
    /// client and `Outcome` then carry them without a box allocation per deposit.
    @Test func requestsAndRepliesFitAnExistentialsInlineBuffer() {
        #expect(MemoryLayout<AccountCommandRequest>.size <= 3 * MemoryLayout<Int>.size)
        #expect(MemoryLayout<AccountReply>.size <= 3 * MemoryLayout<Int>.size)
    }

    @Test func commandRequestsRoundTripOnTheWire() throws {
        let requests = [
            AccountCommandRequest(.open(initial: 5)), AccountCommandRequest(.deposit(amount: 7), idempotencyKey: "k-1"),
            AccountCommandRequest(.withdraw(amount: .max)),
            AccountCommandRequest(.debit(transferID: "t", to: "bob", amount: 3), idempotencyKey: "t:debit"),
            AccountCommandRequest(.credit(transferID: "t", from: "ålice", amount: 3)),
            AccountCommandRequest(.refund(transferID: "t"), idempotencyKey: "t:refund"),
        ]
        for request in requests {
            var writer = WireWriter()
            request.encode(to: &writer)
            var reader = WireReader(writer.bytes)
            let decoded = try AccountCommandRequest(from: &reader)
            #expect(decoded.command == request.command)
            #expect(decoded.idempotencyKey == request.idempotencyKey)
        }
        var request = AccountCommandRequest(.deposit(amount: 1))
        #expect(request.idempotencyKey == "")
        request.idempotencyKey = "again"
        #expect(request.idempotencyKey == "again")
    }

    @Test func repliesRoundTripOnTheWireAndCompareByValue() throws {
        let shared = AccountReply.Details(node: "node-1")
        let replies = [
            AccountReply(balance: 150, version: 3, details: shared),
            AccountReply(
                node: "node-2", balance: 70, version: 4, error: "insufficient_funds", replayed: 12,
                snapshotVersion: 100),
        ]
        for reply in replies {
            var writer = WireWriter()
            reply.encode(to: &writer)
            var reader = WireReader(writer.bytes)
            let decoded = try AccountReply(from: &reader)
            #expect(decoded == reply)
            #expect(decoded.node == reply.node && decoded.error == reply.error)
            #expect(decoded.replayed == reply.replayed && decoded.snapshotVersion == reply.snapshotVersion)
        }
        #expect(AccountReply(node: "node-1", balance: 150, version: 3) == replies[0])
        #expect(AccountReply(node: "node-1", balance: 150, version: 4) != replies[0])
        #expect(replies[1].domainError == .insufficientFunds(balance: 70))
    }
}
