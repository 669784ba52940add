import ClstrRuntime
import EventSourcing

extension PrometheusExposition {
    /// Appends the event-sourcing families: store appends, events, latency, conflicts, idempotent replays,
    /// group-commit batch sizes, fsyncs, snapshots, aggregate loads, and per consumer its position, head, lag,
    /// handled, retries and parked events (labelled by consumer name: one series per consumer, a bounded set).
    /// - Parameters:
    ///   - metrics: the store's (and repository's) counters.
    ///   - store: the `store` label (`memory`, `sqlite`, `jetstream`).
    ///   - consumers: the consumers' gauges.
    public mutating func eventSourcing(
        _ metrics: EventStoreMetrics, store: String, consumers: [ConsumerMetrics] = []
    ) {
        let labels = [("store", store)]
        func counter(_ name: String, _ help: String, _ value: Int) {
            header(name, type: "counter", help: help)
            sample(name, labels: labels, value: value)
        }
        counter(
            "clstr_es_appends_total", "Appends that stored events.", metrics.appends.load(ordering: .relaxed))
        counter("clstr_es_events_total", "Events stored.", metrics.events.load(ordering: .relaxed))
        counter(
            "clstr_es_append_conflicts_total", "Appends refused by the expected-version check.",
            metrics.conflicts.load(ordering: .relaxed))
        counter(
            "clstr_es_idempotent_replays_total", "Appends answered as retries of an earlier append.",
            metrics.idempotentReplays.load(ordering: .relaxed))
        counter(
            "clstr_es_append_failures_total", "Appends that failed otherwise.",
            metrics.appendFailures.load(ordering: .relaxed))
        header("clstr_es_append_duration_seconds", type: "histogram", help: "Append latency (call to completion).")
        histogram("clstr_es_append_duration_seconds", labels: labels, metrics.appendLatency)
        countHistogram(
            "clstr_es_group_commit_appends", labels: labels, help: "Appends per group-commit transaction.",
            metrics.groupCommitBatchSize)
        counter("clstr_es_fsyncs_total", "Durable flushes made by the store.", metrics.fsyncs.load(ordering: .relaxed))
        counter(
            "clstr_es_snapshot_saves_total", "Snapshots stored.", metrics.snapshotSaves.load(ordering: .relaxed))
        counter(
            "clstr_es_snapshot_stale_total", "Snapshot saves refused as stale.",
            metrics.snapshotStale.load(ordering: .relaxed))
        counter(
            "clstr_es_snapshot_failures_total", "Snapshot saves that failed (their commands succeeded).",
            metrics.snapshotFailures.load(ordering: .relaxed))
        counter(
            "clstr_es_stream_index_fill_failures_total",
            "Stream index fills that failed (their appends committed; the index stays behind).",
            metrics.streamIndexFillFailures.load(ordering: .relaxed))
        counter(
            "clstr_es_snapshot_loads_total", "Snapshot loads that found one.",
            metrics.snapshotLoads.load(ordering: .relaxed))
        counter(
            "clstr_es_aggregate_loads_total", "Aggregates loaded.", metrics.aggregateLoads.load(ordering: .relaxed))
        counter(
            "clstr_es_aggregate_load_failures_total", "Aggregate loads that failed.",
            metrics.aggregateLoadFailures.load(ordering: .relaxed))
        header("clstr_es_aggregate_load_duration_seconds", type: "histogram", help: "Aggregate load latency.")
        histogram("clstr_es_aggregate_load_duration_seconds", labels: labels, metrics.aggregateLoadLatency)
        guard !consumers.isEmpty else { return }
        let families: [(String, String, String, (ConsumerMetrics) -> Int)] = [
            (
                "clstr_es_consumer_position", "gauge", "Global position of the last event handled or parked.",
                {
                    Int(truncatingIfNeeded: $0.position.load(ordering: .relaxed))
                }
            ),
            (
                "clstr_es_consumer_head", "gauge", "Head position of the log as the consumer knows it.",
                {
                    Int(truncatingIfNeeded: $0.head.load(ordering: .relaxed))
                }
            ),
            (
                "clstr_es_consumer_lag", "gauge", "Events between position and head.",
                { Int(truncatingIfNeeded: $0.lag) }
            ),
            (
                "clstr_es_consumer_handled_total", "counter", "Events handled.",
                {
                    $0.handled.load(ordering: .relaxed)
                }
            ),
            (
                "clstr_es_consumer_retries_total", "counter", "Handler attempts retried.",
                {
                    $0.retries.load(ordering: .relaxed)
                }
            ),
            (
                "clstr_es_consumer_parked_total", "counter", "Events parked after their attempts ran out.",
                {
                    $0.parked.load(ordering: .relaxed)
                }
            ),
        ]
        for (name, type, help, value) in families {
            header(name, type: type, help: help)
            for consumer in consumers {
                sample(name, labels: [("consumer", consumer.name)], value: value(consumer))
            }
        }
    }

    /// A histogram of counts recorded into an ``AtomicHistogram`` as "nanoseconds" (bounds and sum are counts).
    mutating func countHistogram(_ name: String, labels: [(String, String)], help: String, _ histogram: AtomicHistogram)
    {
        header(name, type: "histogram", help: help)
        let snapshot = histogram.snapshot()
        for (index, bound) in histogram.boundsNanoseconds.enumerated() {
            sample(name + "_bucket", labels: labels + [("le", String(bound))], value: snapshot.cumulative[index])
        }
        sample(name + "_bucket", labels: labels + [("le", "+Inf")], value: snapshot.count)
        sample(name + "_sum", labels: labels, value: Int((snapshot.sumSeconds * 1e9).rounded()))
        sample(name + "_count", labels: labels, value: snapshot.count)
    }
}
