import Foundation
import Testing

@testable import EventStoreSQLite

/// The group-commit writer's queue: a hold keeps queued elements for the next take until released (so that the
/// previous batch's completions can queue their next appends), and never longer than its limit.
@Suite("BlockingQueue holds")
struct BlockingQueueTests {
    /// Takes one batch on a thread of its own (never blocking the cooperative pool).
    private static func take(_ queue: BlockingQueue<Int>, limit: Int = 100) async -> [Int] {
        await withCheckedContinuation { continuation in
            Thread {
                var batch: [Int] = []
                _ = queue.take(into: &batch, limit: limit)
                continuation.resume(returning: batch)
            }.start()
        }
    }

    /// Returns once the consumer sleeps in `take`, so that what follows goes through a wake-up (10 s at most).
    private static func untilConsumerWaits(_ queue: BlockingQueue<Int>) async {
        let deadline = ContinuousClock.now + .seconds(10)
        while !queue.isConsumerWaiting && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test("elements posted during a hold go out together at the release")
    func releaseHandsOutEverything() async {
        let queue = BlockingQueue<Int>(holdLimit: .seconds(60))
        queue.hold()
        _ = queue.post(1)
        async let taken = Self.take(queue)
        // The consumer sleeps in its hold: only the release can hand it 1, 2, 3 before the 60 s limit.
        await Self.untilConsumerWaits(queue)
        _ = queue.post(2)
        _ = queue.post(3)
        let released = ContinuousClock.now
        queue.release()
        #expect(await taken == [1, 2, 3])
        #expect(ContinuousClock.now - released < .seconds(30), "woken by the release, not by the 60 s limit")
    }

    @Test("a hold that is never released delays the consumer by its limit only")
    func holdIsBounded() async {
        let queue = BlockingQueue<Int>(holdLimit: .milliseconds(5))
        queue.hold()
        _ = queue.post(1)
        let start = ContinuousClock.now
        #expect(await Self.take(queue) == [1])
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("a full batch ends a hold")
    func fullBatchEndsHold() async {
        let queue = BlockingQueue<Int>(holdLimit: .seconds(60))
        queue.hold()
        async let taken = Self.take(queue, limit: 3)
        // Posted to a sleeping consumer: the first starts its hold timer, the third fills the batch and wakes it.
        await Self.untilConsumerWaits(queue)
        _ = queue.post(1)
        await Self.untilConsumerWaits(queue)
        let filled = ContinuousClock.now
        for element in 2...3 { _ = queue.post(element) }
        #expect(await taken == [1, 2, 3])
        #expect(ContinuousClock.now - filled < .seconds(30), "woken by the full batch, not by the 60 s limit")
    }

    @Test("closing ends a hold")
    func closeEndsHold() async {
        let queue = BlockingQueue<Int>(holdLimit: .seconds(60))
        queue.hold()
        _ = queue.post(1)
        async let taken = Self.take(queue)
        queue.close()
        #expect(await taken == [1])
    }
}
