import EventSourcing

extension EventStoreConformance {
    /// Cases that need the aggregate and consumer layers (snapshot + tail, consumers).
    static var aggregateCases: [ConformanceCase] { [] }
}
