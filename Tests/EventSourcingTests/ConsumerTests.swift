import EventSourcing
import Foundation
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct ConsumerTests {
    @Test func lagIsHeadMinusPositionWhileLive() async throws {
        let store = InMemoryEventStore()
        let entered = AsyncStream<UInt64>.makeStream()
        let gate = DispatchSemaphore(value: 0)
        let handled = AsyncStream<UInt64>.makeStream()
        let consumer = Consumer(name: "lag", store: store, checkpoints: InMemoryCheckpointStore()) { event in
            if event.position == 1 {
                entered.continuation.yield(event.position)
                // The consumer's own thread, not the cooperative pool: it may block.
                gate.wait()
            }
            handled.continuation.yield(event.position)
        }
        consumer.start()
        await consumer.waitUntilCaughtUp()
        #expect(consumer.metrics.lag == 0)
        let stream = StreamName(aggregateType: "Lag", aggregateID: "1")
        _ = try await store.append(to: stream, expected: .any, events: [EventData(type: "E", payload: [])])
        var enteredIterator = entered.stream.makeAsyncIterator()
        #expect(await enteredIterator.next() == 1)
        for _ in 0..<4 {
            _ = try await store.append(to: stream, expected: .any, events: [EventData(type: "E", payload: [])])
        }
        // Appended while the handler is busy: the head moved, the position did not.
        #expect(consumer.metrics.lag == 5)
        gate.signal()
        for await position in handled.stream where position == 5 { break }
        await consumer.shutdown()
        #expect(consumer.metrics.lag == 0)
        #expect(consumer.position == 5)
    }

    @Test func checkpointEveryNSavesLessOftenButAlwaysAtTheHead() async throws {
        let store = InMemoryEventStore()
        let checkpoints = InMemoryCheckpointStore()
        let stream = StreamName(aggregateType: "Cp", aggregateID: "1")
        for _ in 0..<10 {
            _ = try await store.append(to: stream, expected: .any, events: [EventData(type: "E", payload: [])])
        }
        var options = ConsumerOptions()
        options.checkpointEvery = 4
        let consumer = Consumer(name: "cp", store: store, checkpoints: checkpoints, options: options) { _ in }
        consumer.start()
        await consumer.waitUntilCaughtUp()
        #expect(try await checkpoints.checkpoint(consumer: "cp") == 10)
        await consumer.shutdown()
    }
}
