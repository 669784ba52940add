import CNATS

/// Layer 1 of the libnats wrapper, JetStream part: the `js_*` and `kvStore_*` calls this target makes, each
/// returning a ``NATSStatus`` (and, where libnats gives one, the JetStream error code through `errorCode`).
///
/// Nothing here owns memory or throws; ``JetStreamContext``, ``JetStreamKeyValue`` and the subscriptions own the C
/// objects and turn statuses into errors (layer 2: ``NATSStatus/check(_:)``, ``NATSError/jetStreamCode``).
extension LibNATS {
    static func jetStream(
        _ context: inout OpaquePointer?, _ connection: OpaquePointer, options: inout jsOptions
    ) -> NATSStatus {
        NATSStatus(natsConnection_JetStream(&context, connection, &options))
    }

    static func addStream(
        _ context: OpaquePointer, configuration: inout jsStreamConfig, errorCode: inout jsErrCode
    ) -> NATSStatus {
        NATSStatus(js_AddStream(nil, context, &configuration, nil, &errorCode))
    }

    static func updateStream(
        _ context: OpaquePointer, configuration: inout jsStreamConfig, errorCode: inout jsErrCode
    ) -> NATSStatus {
        NATSStatus(js_UpdateStream(nil, context, &configuration, nil, &errorCode))
    }

    static func deleteStream(_ context: OpaquePointer, name: String, errorCode: inout jsErrCode) -> NATSStatus {
        NATSStatus(js_DeleteStream(context, name, nil, &errorCode))
    }

    static func streamInfo(
        _ info: inout UnsafeMutablePointer<jsStreamInfo>?, _ context: OpaquePointer, name: String,
        errorCode: inout jsErrCode
    ) -> NATSStatus {
        NATSStatus(js_GetStreamInfo(&info, context, name, nil, &errorCode))
    }

    static func directGet(
        _ message: inout OpaquePointer?, _ context: OpaquePointer, stream: String,
        options: inout jsDirectGetMsgOptions
    ) -> NATSStatus {
        NATSStatus(js_DirectGetMsg(&message, context, stream, nil, &options))
    }

    static func publishMessageAsync(
        _ context: OpaquePointer, message: inout OpaquePointer?, options: inout jsPubOptions
    ) -> NATSStatus {
        NATSStatus(js_PublishMsgAsync(context, &message, &options))
    }

    static func createMessage(
        _ message: inout OpaquePointer?, subject: UnsafePointer<CChar>, bytes: UnsafeRawBufferPointer
    ) -> NATSStatus {
        NATSStatus(
            natsMsg_Create(
                &message, subject, nil, bytes.baseAddress?.assumingMemoryBound(to: CChar.self),
                Int32(truncatingIfNeeded: bytes.count)))
    }

    static func subscribe(
        _ subscription: inout OpaquePointer?, _ context: OpaquePointer, subject: String, callback: natsMsgHandler,
        closure: UnsafeMutableRawPointer, options: inout jsSubOptions, errorCode: inout jsErrCode
    ) -> NATSStatus {
        NATSStatus(js_Subscribe(&subscription, context, subject, callback, closure, nil, &options, &errorCode))
    }

    static func subscribeSync(
        _ subscription: inout OpaquePointer?, _ context: OpaquePointer, subject: String,
        options: inout jsSubOptions, errorCode: inout jsErrCode
    ) -> NATSStatus {
        NATSStatus(js_SubscribeSync(&subscription, context, subject, nil, &options, &errorCode))
    }

    static func nextMessage(
        _ message: inout OpaquePointer?, _ subscription: OpaquePointer, timeoutMilliseconds: Int64
    ) -> NATSStatus {
        NATSStatus(natsSubscription_NextMsg(&message, subscription, timeoutMilliseconds))
    }

    static func metadata(
        _ metadata: inout UnsafeMutablePointer<jsMsgMetaData>?, _ message: OpaquePointer
    ) -> NATSStatus {
        NATSStatus(natsMsg_GetMetaData(&metadata, message))
    }

    static func createKeyValue(
        _ store: inout OpaquePointer?, _ context: OpaquePointer, configuration: inout kvConfig
    ) -> NATSStatus {
        NATSStatus(js_CreateKeyValue(&store, context, &configuration))
    }

    static func bindKeyValue(_ store: inout OpaquePointer?, _ context: OpaquePointer, bucket: String) -> NATSStatus {
        NATSStatus(js_KeyValue(&store, context, bucket))
    }

    static func keyValueGet(_ entry: inout OpaquePointer?, _ store: OpaquePointer, key: String) -> NATSStatus {
        NATSStatus(kvStore_Get(&entry, store, key))
    }

    static func keyValueCreate(
        _ revision: inout UInt64, _ store: OpaquePointer, key: String, bytes: UnsafeRawBufferPointer
    ) -> NATSStatus {
        NATSStatus(kvStore_Create(&revision, store, key, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count)))
    }

    static func keyValueUpdate(
        _ revision: inout UInt64, _ store: OpaquePointer, key: String, bytes: UnsafeRawBufferPointer, last: UInt64
    ) -> NATSStatus {
        NATSStatus(
            kvStore_Update(&revision, store, key, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count), last))
    }

    static func keyValuePut(
        _ revision: inout UInt64, _ store: OpaquePointer, key: String, bytes: UnsafeRawBufferPointer
    ) -> NATSStatus {
        NATSStatus(kvStore_Put(&revision, store, key, bytes.baseAddress, Int32(truncatingIfNeeded: bytes.count)))
    }

    static func keyValueDelete(_ store: OpaquePointer, key: String) -> NATSStatus {
        NATSStatus(kvStore_Delete(store, key))
    }
}
