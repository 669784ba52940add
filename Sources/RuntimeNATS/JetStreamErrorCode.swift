import CNATS

/// A JetStream API error code (`jsErrCode`), as a Swift value; the static members name the C constants.
public struct JetStreamErrorCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    init(_ code: jsErrCode) { self.rawValue = code.rawValue }

    /// `JSClusterNotAvailErr`: JetStream is temporarily unavailable.
    public static let clusterNotAvailable = JetStreamErrorCode(JSClusterNotAvailErr)
    /// `JSInsufficientResourcesErr`: the server is out of storage or memory for JetStream.
    public static let insufficientResources = JetStreamErrorCode(JSInsufficientResourcesErr)
    /// `JSNoMessageFoundErr`: no message at that sequence or on that subject.
    public static let noMessageFound = JetStreamErrorCode(JSNoMessageFoundErr)
    /// `JSNotEnabledErr`: the server runs without JetStream (`-js`).
    public static let notEnabled = JetStreamErrorCode(JSNotEnabledErr)
    /// `JSStreamMessageExceedsMaximumErr`: the message is larger than the stream allows.
    public static let messageExceedsMaximum = JetStreamErrorCode(JSStreamMessageExceedsMaximumErr)
    /// `JSStreamNameExistErr`: a stream with that name exists with another configuration.
    public static let streamNameExists = JetStreamErrorCode(JSStreamNameExistErr)
    /// `JSStreamNotFoundErr`: no such stream.
    public static let streamNotFound = JetStreamErrorCode(JSStreamNotFoundErr)
    /// `JSStreamWrongLastSequenceErr`: `Nats-Expected-Last-Subject-Sequence` (or `…-Last-Sequence`) did not hold;
    /// nothing was stored.
    public static let wrongLastSequence = JetStreamErrorCode(JSStreamWrongLastSequenceErr)
    /// `JSStreamStoreFailedErr`: the server failed to store the message.
    public static let storeFailed = JetStreamErrorCode(JSStreamStoreFailedErr)
}
