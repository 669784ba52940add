import EventSourcing
import HTTPFront
import Testing

@Suite struct EventSourcingExpositionTests {
    @Test func rendersStoreAndConsumerFamilies() {
        let metrics = EventStoreMetrics()
        metrics.appended(events: 3, nanoseconds: 2_000)
        metrics.conflicted()
        metrics.groupCommitted(appends: 5)
        metrics.fsynced()
        let consumer = ConsumerMetrics(name: "balances")
        consumer.head.store(10, ordering: .relaxed)
        consumer.position.store(7, ordering: .relaxed)
        var exposition = PrometheusExposition()
        exposition.eventSourcing(metrics, store: "memory", consumers: [consumer])
        let text = exposition.text
        #expect(text.contains("clstr_es_appends_total{store=\"memory\"} 1\n"))
        #expect(text.contains("clstr_es_events_total{store=\"memory\"} 3\n"))
        #expect(text.contains("clstr_es_append_conflicts_total{store=\"memory\"} 1\n"))
        #expect(text.contains("clstr_es_fsyncs_total{store=\"memory\"} 1\n"))
        #expect(text.contains("clstr_es_group_commit_appends_bucket{store=\"memory\",le=\"4\"} 0\n"))
        #expect(text.contains("clstr_es_group_commit_appends_bucket{store=\"memory\",le=\"8\"} 1\n"))
        #expect(text.contains("clstr_es_group_commit_appends_sum{store=\"memory\"} 5\n"))
        #expect(text.contains("clstr_es_append_duration_seconds_count{store=\"memory\"} 1\n"))
        #expect(text.contains("clstr_es_consumer_lag{consumer=\"balances\"} 3\n"))
        #expect(text.contains("# TYPE clstr_es_consumer_parked_total counter\n"))
    }
}
