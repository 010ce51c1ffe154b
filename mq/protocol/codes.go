// Package protocol holds the vocabulary of Apache RocketMQ 4.x's remoting
// protocol as Surge speaks it: request and response codes, the stored message
// record (which is also the wire form of a pulled message), message
// properties, message IDs and tag hash codes, the typed ext headers of every
// request Surge serves or sends, the JSON (and fastjson-style) bodies, and
// the SEND_BATCH_MESSAGE body.
//
// Decoders take bytes or ext maps from the network and return errors, never
// panic; their sentinels are documented in message.go and ext.go. Encoders
// produce exactly what the official Go client v2.1.2 and Java 4.9.x clients
// parse (see rocketmq-wire-protocol.md, which the comments cite by section).
//
// Nothing here does I/O; the package is shared by the store, the broker, the
// NameServer and the client SDK.
package protocol

// Request codes. The numbers are RocketMQ's and must not change.
const (
	SendMessage                     int16 = 10
	PullMessage                     int16 = 11
	QueryMessage                    int16 = 12
	QueryConsumerOffset             int16 = 14
	UpdateConsumerOffset            int16 = 15
	UpdateAndCreateTopic            int16 = 17
	GetAllTopicConfig               int16 = 21
	GetBrokerRuntimeInfo            int16 = 28
	SearchOffsetByTimestamp         int16 = 29
	GetMaxOffset                    int16 = 30
	GetMinOffset                    int16 = 31
	GetEarliestMsgStoreTime         int16 = 32
	ViewMessageByID                 int16 = 33
	HeartBeat                       int16 = 34
	UnregisterClient                int16 = 35
	ConsumerSendMsgBack             int16 = 36
	EndTransaction                  int16 = 37
	GetConsumerListByGroup          int16 = 38
	CheckTransactionState           int16 = 39
	NotifyConsumerIDsChanged        int16 = 40
	LockBatchMQ                     int16 = 41
	UnlockBatchMQ                   int16 = 42
	GetAllConsumerOffset            int16 = 43
	GetAllDelayOffset               int16 = 45
	CheckClientConfig               int16 = 46
	PutKVConfig                     int16 = 100
	GetKVConfig                     int16 = 101
	DeleteKVConfig                  int16 = 102
	RegisterBroker                  int16 = 103
	UnregisterBroker                int16 = 104
	GetRouteInfoByTopic             int16 = 105
	GetBrokerClusterInfo            int16 = 106
	UpdateAndCreateSubscription     int16 = 200
	GetAllSubscriptionGroupConfig   int16 = 201
	GetTopicStatsInfo               int16 = 202
	GetConsumerConnectionList       int16 = 203
	GetProducerConnectionList       int16 = 204
	WipeWritePermOfBroker           int16 = 205
	GetAllTopicListFromNameServer   int16 = 206
	DeleteSubscriptionGroup         int16 = 207
	GetConsumeStats                 int16 = 208
	GetTopicsByCluster              int16 = 224
	DeleteTopicInBroker             int16 = 215
	DeleteTopicInNamesrv            int16 = 216
	InvokeBrokerToResetOffset       int16 = 222
	InvokeBrokerToGetConsumerStatus int16 = 223
	ResetConsumerClientOffset       int16 = 220
	GetConsumerStatusFromClient     int16 = 221
	QueryTopicConsumeByWho          int16 = 300
	QueryConsumeTimeSpan            int16 = 303
	GetConsumerRunningInfo          int16 = 307
	ConsumeMessageDirectly          int16 = 309
	SendMessageV2                   int16 = 310
	SendBatchMessage                int16 = 320
	QueryDataVersion                int16 = 322
	SendReplyMessage                int16 = 324
	SendReplyMessageV2              int16 = 325
	PushReplyMessageToClient        int16 = 326
)

// Response codes. The numbers are RocketMQ's and must not change.
const (
	Success                   int16 = 0
	SystemError               int16 = 1
	SystemBusy                int16 = 2
	RequestCodeNotSupported   int16 = 3
	TransactionFailed         int16 = 4
	FlushDiskTimeout          int16 = 10
	SlaveNotAvailable         int16 = 11
	FlushSlaveTimeout         int16 = 12
	MessageIllegal            int16 = 13
	ServiceNotAvailable       int16 = 14
	VersionNotSupported       int16 = 15
	NoPermission              int16 = 16
	TopicNotExist             int16 = 17
	TopicExistAlready         int16 = 18
	PullNotFound              int16 = 19
	PullRetryImmediately      int16 = 20
	PullOffsetMoved           int16 = 21
	QueryNotFound             int16 = 22
	SubscriptionParseFailed   int16 = 23
	SubscriptionNotExist      int16 = 24
	SubscriptionNotLatest     int16 = 25
	SubscriptionGroupNotExist int16 = 26
	FilterDataNotExist        int16 = 27
	FilterDataNotLatest       int16 = 28
)
