#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A one-permit park/unpark primitive over a pthread mutex and condition variable.
///
/// `unpark` before `park` is remembered, so a wake-up sent between a worker's last check and its sleep is not lost.
final class Parker: @unchecked Sendable {
    // @unchecked Sendable: `permit` is only read and written with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var permit = false

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Blocks until a permit is available (or `timeoutNanoseconds` pass), then consumes it.
    func park(timeoutNanoseconds: UInt64? = nil) {
        pthread_mutex_lock(mutex)
        if let timeoutNanoseconds {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let total = UInt64(now.tv_nsec) + timeoutNanoseconds
            var until = timespec()
            until.tv_sec = now.tv_sec + Int(total / 1_000_000_000)
            until.tv_nsec = Int(total % 1_000_000_000)
            while !permit {
                if pthread_cond_timedwait(condition, mutex, &until) == ETIMEDOUT { break }
            }
        } else {
            while !permit { pthread_cond_wait(condition, mutex) }
        }
        permit = false
        pthread_mutex_unlock(mutex)
    }

    /// Makes a permit available and wakes the parked thread, if any.
    func unpark() {
        pthread_mutex_lock(mutex)
        permit = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }
}
