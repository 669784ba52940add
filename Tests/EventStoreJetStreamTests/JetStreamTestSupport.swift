import EventSourcing
import RuntimeNATS
import TestKit

/// A JetStream event store with its snapshot and checkpoint stores on a real `nats-server -js` (temporary store
/// directory, free loopback port); blocks while connecting, so call it off the cooperative pool.
final class JetStreamFixture: Sendable {
    let server: NATSServer
    let connection: NATSConnection
    let events: JetStreamEventStore
    let snapshots: JetStreamSnapshotStore
    let checkpoints: JetStreamCheckpointStore

    init(
        server: NATSServer? = nil, prefix: String = "es", appendTimeout: Duration = .seconds(5),
        readTimeout: Duration = .seconds(5), markers: Bool = false
    ) throws {
        let server = try server ?? NATSServer(jetStream: true)
        self.server = server
        var options = NATSConnection.Options(urls: [server.url])
        options.reconnectWait = .milliseconds(100)
        connection = try NATSConnection(options: options)
        var configuration = JetStreamEventStore.Configuration(prefix: prefix)
        configuration.appendTimeout = appendTimeout
        configuration.readTimeout = readTimeout
        configuration.detectsRepeatedEventIDs = markers
        events = try JetStreamEventStore(connection: connection, configuration: configuration)
        snapshots = try JetStreamSnapshotStore(context: events.context, prefix: prefix)
        checkpoints = try JetStreamCheckpointStore(context: events.context, prefix: prefix)
    }

    func close() {
        events.close()
        connection.close()
    }
}
