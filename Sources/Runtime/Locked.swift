import Synchronization

#if CLSTR_PTHREAD_LOCKS
    #if canImport(Glibc)
        import Glibc
    #endif

    /// A lock around a value: `Synchronization.Mutex`, or in thread-sanitizer builds (`make tsan`) a pthread mutex.
    ///
    /// On Linux `Mutex` waits with raw futex calls that the thread sanitizer cannot see, so every access under it is
    /// reported as a race; a pthread mutex is intercepted by the sanitizer. Same API as `Mutex`.
    public struct Locked<Value>: ~Copyable, @unchecked Sendable {
        // @unchecked Sendable: the value is only reached through `withLock`, under the pthread mutex.
        private let storage: Storage

        private final class Storage {
            let mutex: UnsafeMutablePointer<pthread_mutex_t>
            var value: Value

            init(_ value: Value) {
                self.value = value
                mutex = .allocate(capacity: 1)
                pthread_mutex_init(mutex, nil)
            }

            deinit {
                pthread_mutex_destroy(mutex)
                mutex.deallocate()
            }
        }

        public init(_ initialValue: sending Value) {
            storage = Storage(initialValue)
        }

        public borrowing func withLock<Result, E: Error>(
            _ body: (inout sending Value) throws(E) -> sending Result
        ) throws(E) -> sending Result {
            pthread_mutex_lock(storage.mutex)
            defer { pthread_mutex_unlock(storage.mutex) }
            return try body(&storage.value)
        }
    }
#else
    /// A lock around a value: `Synchronization.Mutex`, or in thread-sanitizer builds (`make tsan`) a pthread mutex,
    /// because the sanitizer cannot see `Mutex`'s futex waits on Linux and would report every guarded access.
    public typealias Locked<Value> = Mutex<Value>
#endif
