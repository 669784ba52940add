#if os(Linux)
    import Foundation
    import Synchronization

    extension LoadEngine {
        /// The raw-epoll engine: one thread per entry of `slots`, an ``EpollLoop`` on each.
        static func runEpoll(
            control: RunControl, config: EngineConfiguration, slots: [Int], seeds: [UInt64],
            counters: [ProgressCounters?]
        ) async -> [RunStatistics] {
            let collector = ResultCollector(expected: slots.count)
            return await withCheckedContinuation { continuation in
                collector.setContinuation(continuation)
                for index in slots.indices {
                    let count = slots[index]
                    let seed = seeds[index]
                    let counter = counters[index]
                    let thread = Thread {
                        let loop = EpollLoop(
                            control: control, config: config, slots: count, seed: seed, progress: counter)
                        collector.add(loop.run())
                    }
                    thread.name = "loadgen-loop-\(index)"
                    thread.start()
                }
            }
        }
    }

    /// Collects each loop thread's statistics and resumes the waiting task when the last one arrives.
    private final class ResultCollector: Sendable {
        private struct State {
            var results: [RunStatistics] = []
            var continuation: CheckedContinuation<[RunStatistics], Never>?
            var expected: Int
        }

        private let state: Mutex<State>

        init(expected: Int) {
            state = Mutex(State(expected: expected))
        }

        func setContinuation(_ continuation: CheckedContinuation<[RunStatistics], Never>) {
            let ready: [RunStatistics]? = state.withLock { s in
                s.continuation = continuation
                return s.results.count == s.expected ? s.results : nil
            }
            if let ready { continuation.resume(returning: ready) }
        }

        func add(_ statistics: RunStatistics) {
            let ready: (CheckedContinuation<[RunStatistics], Never>, [RunStatistics])? = state.withLock { s in
                s.results.append(statistics)
                guard s.results.count == s.expected, let continuation = s.continuation else { return nil }
                s.continuation = nil
                return (continuation, s.results)
            }
            if let (continuation, results) = ready { continuation.resume(returning: results) }
        }
    }
#endif
