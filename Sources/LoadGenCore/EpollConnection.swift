#if os(Linux)
    import NIOCore

    /// One connection of an ``EpollLoop`` slot (loop-confined, like everything in the loop).
    final class EpollConnection {
        enum Phase {
            case connecting, scheduled, inFlight, idle
        }

        let slot: Int
        let generation: UInt32
        let fd: Int32
        var phase: Phase = .connecting
        var sequence: Int
        var parser = ResponseParser()
        let connectStartNs: UInt64
        var pendingDialNs: UInt64 = 0
        var sendNs: UInt64 = 0
        var firstByteNs: UInt64 = 0
        var plannedNs: UInt64 = 0
        var completedOnConnection = 0
        /// Bytes of the current request already written (when a write was partial).
        var writeOffset = 0
        var writePending = false
        var scratch: ByteBuffer?
        var random: SplitMix64

        init(slot: Int, generation: UInt32, fd: Int32, sequence: Int, connectStartNs: UInt64, seed: UInt64) {
            self.slot = slot
            self.generation = generation
            self.fd = fd
            self.sequence = sequence
            self.connectStartNs = connectStartNs
            self.random = SplitMix64(seed: seed)
        }
    }
#endif
