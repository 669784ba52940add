import Synchronization

/// An immutable value that readers load without a lock or a reference count, and that writers replace rarely.
///
/// Readers do one acquiring load of a pointer. Writers serialize on a mutex, build the next value, and publish it
/// with a releasing store. A replaced snapshot is not freed: a reader may still be using it, and without hazard
/// pointers or epochs there is no cheap way to know when it stops. So every snapshot ever published lives until
/// the cell is deinitialized. That is only suitable for values that change rarely (membership: a node starts or
/// stops, a message type is registered), which is what it is used for: the memory kept is one small value per
/// change.
@usableFromInline
package final class SnapshotCell<Value: Sendable>: Sendable {
    private final class Box: Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private let current: Atomic<Unmanaged<Box>>
    /// Every box published so far (the last one is current); holds the references that keep them alive.
    private let published: Locked<[Box]>

    package init(_ initial: Value) {
        let box = Box(initial)
        current = Atomic(Unmanaged.passUnretained(box))
        published = Locked([box])
    }

    /// The current value.
    @usableFromInline
    package func load() -> Value {
        // Acquiring: pairs with the releasing store in `update`, so the box's contents are visible.
        current.load(ordering: .acquiring).takeUnretainedValue().value
    }

    /// Replaces the value with `body`'s result (writers are serialized).
    /// - Parameter body: computes the next value from the current one; may throw to leave it unchanged.
    /// - Returns: what `body` returns besides the value.
    package func update<Result, Failure: Error>(
        _ body: (Value) throws(Failure) -> (Value, Result)
    ) throws(Failure) -> Result {
        try published.withLock { boxes throws(Failure) -> Result in
            let (next, result) = try body(boxes[boxes.count - 1].value)
            let box = Box(next)
            boxes.append(box)
            // Releasing: publishes the box's initialized contents to readers that load it acquiring.
            current.store(Unmanaged.passUnretained(box), ordering: .releasing)
            return result
        }
    }
}
