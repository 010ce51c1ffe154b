package protocol

// Pull request sysFlag bits (Java PullSysFlag).
const (
	// PullCommitOffset: store the request's commitOffset for (group, topic,
	// queue) whatever the pull finds.
	PullCommitOffset int32 = 0x1
	// PullSuspend: the broker may hold the request (long polling) while the
	// queue has nothing new.
	PullSuspend int32 = 0x2
	// PullSubscription: subscription and expressionType in the request are
	// authoritative; when clear, use the heartbeat's subscription.
	PullSubscription int32 = 0x4
	// PullClassFilter is the legacy class filter; never set by Go.
	PullClassFilter int32 = 0x8
	// PullLitePull marks Java's lite pull consumer.
	PullLitePull int32 = 0x10
)

// Expression types of a subscription.
const (
	ExpressionTag   = "TAG"
	ExpressionSQL92 = "SQL92"
)

// PullMessageRequestHeader is the request of PULL_MESSAGE (11).
type PullMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	// QueueOffset is the first consume-queue offset wanted.
	QueueOffset int64
	MaxMsgNums  int32
	// SysFlag holds the Pull* bits.
	SysFlag int32
	// CommitOffset is the consumer's offset to store when PullCommitOffset
	// is set.
	CommitOffset int64
	// SuspendTimeoutMillis is how long the broker may hold the request (Go:
	// 20000, Java push: 15000).
	SuspendTimeoutMillis int64
	// Subscription is the expression; optional, empty from the Go push
	// consumer.
	Subscription string
	// SubVersion orders subscriptions; compare, never interpret (Go sends
	// nanoseconds, Java milliseconds).
	SubVersion int64
	// ExpressionType is ExpressionTag or ExpressionSQL92; optional.
	ExpressionType string
}

// DecodePullMessageRequestHeader decodes PULL_MESSAGE's ext.
func DecodePullMessageRequestHeader(ext map[string]string) (PullMessageRequestHeader, error) {
	r := extReader{ext: ext}
	h := PullMessageRequestHeader{
		ConsumerGroup:        r.str("consumerGroup"),
		Topic:                r.str("topic"),
		QueueID:              r.int32("queueId"),
		QueueOffset:          r.int64("queueOffset"),
		MaxMsgNums:           r.int32("maxMsgNums"),
		SysFlag:              r.int32("sysFlag"),
		CommitOffset:         r.int64("commitOffset"),
		SuspendTimeoutMillis: r.int64("suspendTimeoutMillis"),
		Subscription:         r.optStr("subscription"),
		SubVersion:           r.int64("subVersion"),
		ExpressionType:       r.optStr("expressionType"),
	}
	return h, r.err("PULL_MESSAGE")
}

// Ext renders h. subscription and expressionType are always sent, as the Go
// client does.
func (h PullMessageRequestHeader) Ext() map[string]string {
	return map[string]string{
		"consumerGroup":        h.ConsumerGroup,
		"topic":                h.Topic,
		"queueId":              i32(h.QueueID),
		"queueOffset":          i64(h.QueueOffset),
		"maxMsgNums":           i32(h.MaxMsgNums),
		"sysFlag":              i32(h.SysFlag),
		"commitOffset":         i64(h.CommitOffset),
		"suspendTimeoutMillis": i64(h.SuspendTimeoutMillis),
		"subscription":         h.Subscription,
		"subVersion":           i64(h.SubVersion),
		"expressionType":       h.ExpressionType,
	}
}

// PullMessageResponseHeader is the response ext of PULL_MESSAGE for codes
// 0, 19, 20 and 21. All four fields are always sent: Java clients require
// them, and a Go client that misses nextBeginOffset rewinds the queue to 0.
type PullMessageResponseHeader struct {
	// SuggestWhichBrokerID is the broker ID to pull from next; 0 (master)
	// unless slave reads are implemented.
	SuggestWhichBrokerID int64
	NextBeginOffset      int64
	MinOffset            int64
	// MaxOffset is the next offset the queue will assign.
	MaxOffset int64
}

// DecodePullMessageResponseHeader decodes a pull response's ext.
func DecodePullMessageResponseHeader(ext map[string]string) (PullMessageResponseHeader, error) {
	r := extReader{ext: ext}
	h := PullMessageResponseHeader{
		SuggestWhichBrokerID: r.int64("suggestWhichBrokerId"),
		NextBeginOffset:      r.int64("nextBeginOffset"),
		MinOffset:            r.int64("minOffset"),
		MaxOffset:            r.int64("maxOffset"),
	}
	return h, r.err("PULL_MESSAGE response")
}

// Ext renders h.
func (h PullMessageResponseHeader) Ext() map[string]string {
	return map[string]string{
		"suggestWhichBrokerId": i64(h.SuggestWhichBrokerID),
		"nextBeginOffset":      i64(h.NextBeginOffset),
		"minOffset":            i64(h.MinOffset),
		"maxOffset":            i64(h.MaxOffset),
	}
}

// QueryConsumerOffsetRequestHeader is the request of QUERY_CONSUMER_OFFSET
// (14). The answer is an OffsetResponseHeader or QUERY_NOT_FOUND.
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
}

// DecodeQueryConsumerOffsetRequestHeader decodes QUERY_CONSUMER_OFFSET's ext.
func DecodeQueryConsumerOffsetRequestHeader(ext map[string]string) (QueryConsumerOffsetRequestHeader, error) {
	r := extReader{ext: ext}
	h := QueryConsumerOffsetRequestHeader{
		ConsumerGroup: r.str("consumerGroup"),
		Topic:         r.str("topic"),
		QueueID:       r.int32("queueId"),
	}
	return h, r.err("QUERY_CONSUMER_OFFSET")
}

// Ext renders h.
func (h QueryConsumerOffsetRequestHeader) Ext() map[string]string {
	return map[string]string{
		"consumerGroup": h.ConsumerGroup,
		"topic":         h.Topic,
		"queueId":       i32(h.QueueID),
	}
}

// UpdateConsumerOffsetRequestHeader is the request of UPDATE_CONSUMER_OFFSET
// (15). The Go client sends it without the oneway bit and ignores the
// answer.
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	// CommitOffset is the next offset to consume.
	CommitOffset int64
}

// DecodeUpdateConsumerOffsetRequestHeader decodes UPDATE_CONSUMER_OFFSET's
// ext.
func DecodeUpdateConsumerOffsetRequestHeader(ext map[string]string) (UpdateConsumerOffsetRequestHeader, error) {
	r := extReader{ext: ext}
	h := UpdateConsumerOffsetRequestHeader{
		ConsumerGroup: r.str("consumerGroup"),
		Topic:         r.str("topic"),
		QueueID:       r.int32("queueId"),
		CommitOffset:  r.int64("commitOffset"),
	}
	return h, r.err("UPDATE_CONSUMER_OFFSET")
}

// Ext renders h.
func (h UpdateConsumerOffsetRequestHeader) Ext() map[string]string {
	return map[string]string{
		"consumerGroup": h.ConsumerGroup,
		"topic":         h.Topic,
		"queueId":       i32(h.QueueID),
		"commitOffset":  i64(h.CommitOffset),
	}
}

// TopicQueueRequestHeader names one queue of a topic. It is the request of
// GET_MAX_OFFSET (30), GET_MIN_OFFSET (31) and GET_EARLIEST_MSG_STORETIME
// (32), which share these two fields.
type TopicQueueRequestHeader struct {
	Topic   string
	QueueID int32
}

// DecodeTopicQueueRequestHeader decodes the ext of codes 30, 31 and 32.
func DecodeTopicQueueRequestHeader(ext map[string]string) (TopicQueueRequestHeader, error) {
	r := extReader{ext: ext}
	h := TopicQueueRequestHeader{
		Topic:   r.str("topic"),
		QueueID: r.int32("queueId"),
	}
	return h, r.err("topic queue")
}

// Ext renders h.
func (h TopicQueueRequestHeader) Ext() map[string]string {
	return map[string]string{"topic": h.Topic, "queueId": i32(h.QueueID)}
}

// SearchOffsetRequestHeader is the request of SEARCH_OFFSET_BY_TIMESTAMP
// (29).
type SearchOffsetRequestHeader struct {
	Topic   string
	QueueID int32
	// Timestamp is in ms since the epoch.
	Timestamp int64
}

// DecodeSearchOffsetRequestHeader decodes SEARCH_OFFSET_BY_TIMESTAMP's ext.
func DecodeSearchOffsetRequestHeader(ext map[string]string) (SearchOffsetRequestHeader, error) {
	r := extReader{ext: ext}
	h := SearchOffsetRequestHeader{
		Topic:     r.str("topic"),
		QueueID:   r.int32("queueId"),
		Timestamp: r.int64("timestamp"),
	}
	return h, r.err("SEARCH_OFFSET_BY_TIMESTAMP")
}

// Ext renders h.
func (h SearchOffsetRequestHeader) Ext() map[string]string {
	return map[string]string{
		"topic":     h.Topic,
		"queueId":   i32(h.QueueID),
		"timestamp": i64(h.Timestamp),
	}
}

// OffsetResponseHeader is the response ext of QUERY_CONSUMER_OFFSET (14),
// SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30) and GET_MIN_OFFSET
// (31). The Go client parses offset without looking at the response code,
// so always send it.
type OffsetResponseHeader struct {
	Offset int64
}

// DecodeOffsetResponseHeader decodes an offset response's ext.
func DecodeOffsetResponseHeader(ext map[string]string) (OffsetResponseHeader, error) {
	r := extReader{ext: ext}
	h := OffsetResponseHeader{Offset: r.int64("offset")}
	return h, r.err("offset response")
}

// Ext renders h.
func (h OffsetResponseHeader) Ext() map[string]string {
	return map[string]string{"offset": i64(h.Offset)}
}

// GetEarliestMsgStoreTimeResponseHeader is the response ext of
// GET_EARLIEST_MSG_STORETIME (32).
type GetEarliestMsgStoreTimeResponseHeader struct {
	// Timestamp is the store time (ms) of the queue's first message.
	Timestamp int64
}

// DecodeGetEarliestMsgStoreTimeResponseHeader decodes the response ext of
// code 32.
func DecodeGetEarliestMsgStoreTimeResponseHeader(ext map[string]string) (GetEarliestMsgStoreTimeResponseHeader, error) {
	r := extReader{ext: ext}
	h := GetEarliestMsgStoreTimeResponseHeader{Timestamp: r.int64("timestamp")}
	return h, r.err("GET_EARLIEST_MSG_STORETIME response")
}

// Ext renders h.
func (h GetEarliestMsgStoreTimeResponseHeader) Ext() map[string]string {
	return map[string]string{"timestamp": i64(h.Timestamp)}
}

// ConsumerGroupRequestHeader names a consumer group. It is the request of
// GET_CONSUMER_LIST_BY_GROUP (38), NOTIFY_CONSUMER_IDS_CHANGED (40,
// broker to client) and GET_CONSUMER_CONNECTION_LIST (203).
type ConsumerGroupRequestHeader struct {
	ConsumerGroup string
}

// DecodeConsumerGroupRequestHeader decodes the ext of codes 38, 40 and 203.
func DecodeConsumerGroupRequestHeader(ext map[string]string) (ConsumerGroupRequestHeader, error) {
	r := extReader{ext: ext}
	h := ConsumerGroupRequestHeader{ConsumerGroup: r.str("consumerGroup")}
	return h, r.err("consumer group")
}

// Ext renders h.
func (h ConsumerGroupRequestHeader) Ext() map[string]string {
	return map[string]string{"consumerGroup": h.ConsumerGroup}
}

// UnregisterClientRequestHeader is the request of UNREGISTER_CLIENT (35),
// sent by Java clients at shutdown once per group (never by Go).
type UnregisterClientRequestHeader struct {
	ClientID string
	// ProducerGroup or ConsumerGroup names the group leaving; optional.
	ProducerGroup string
	ConsumerGroup string
}

// DecodeUnregisterClientRequestHeader decodes UNREGISTER_CLIENT's ext.
func DecodeUnregisterClientRequestHeader(ext map[string]string) (UnregisterClientRequestHeader, error) {
	r := extReader{ext: ext}
	h := UnregisterClientRequestHeader{
		ClientID:      r.str("clientID"),
		ProducerGroup: r.optStr("producerGroup"),
		ConsumerGroup: r.optStr("consumerGroup"),
	}
	return h, r.err("UNREGISTER_CLIENT")
}

// Ext renders h.
func (h UnregisterClientRequestHeader) Ext() map[string]string {
	ext := map[string]string{"clientID": h.ClientID}
	putOpt(ext, "producerGroup", h.ProducerGroup)
	putOpt(ext, "consumerGroup", h.ConsumerGroup)
	return ext
}

// QueryMessageRequestHeader is the request of QUERY_MESSAGE (12): messages
// of a topic by business key (KEYS) or, with UniqueKeyQuery, by UNIQ_KEY.
type QueryMessageRequestHeader struct {
	Topic          string
	Key            string
	MaxNum         int32
	BeginTimestamp int64
	EndTimestamp   int64
	// UniqueKeyQuery is the optional _UNIQUE_KEY_QUERY field: Key is a
	// UNIQ_KEY, and Java then applies its own default MaxNum (32).
	UniqueKeyQuery bool
}

// uniqueKeyQueryField is the ext name Java's MQClientAPIImpl adds when
// viewing a message by its unique key.
const uniqueKeyQueryField = "_UNIQUE_KEY_QUERY"

// DecodeQueryMessageRequestHeader decodes QUERY_MESSAGE's ext.
func DecodeQueryMessageRequestHeader(ext map[string]string) (QueryMessageRequestHeader, error) {
	r := extReader{ext: ext}
	h := QueryMessageRequestHeader{
		Topic:          r.str("topic"),
		Key:            r.str("key"),
		MaxNum:         r.int32("maxNum"),
		BeginTimestamp: r.int64("beginTimestamp"),
		EndTimestamp:   r.int64("endTimestamp"),
		UniqueKeyQuery: r.bool(uniqueKeyQueryField),
	}
	return h, r.err("QUERY_MESSAGE")
}

// Ext renders h.
func (h QueryMessageRequestHeader) Ext() map[string]string {
	ext := map[string]string{
		"topic":          h.Topic,
		"key":            h.Key,
		"maxNum":         i32(h.MaxNum),
		"beginTimestamp": i64(h.BeginTimestamp),
		"endTimestamp":   i64(h.EndTimestamp),
	}
	if h.UniqueKeyQuery {
		ext[uniqueKeyQueryField] = "true"
	}
	return ext
}

// QueryMessageResponseHeader is the response ext of QUERY_MESSAGE; both
// fields are required by Java clients.
type QueryMessageResponseHeader struct {
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyoffset int64
}

// DecodeQueryMessageResponseHeader decodes QUERY_MESSAGE's response ext.
func DecodeQueryMessageResponseHeader(ext map[string]string) (QueryMessageResponseHeader, error) {
	r := extReader{ext: ext}
	h := QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: r.int64("indexLastUpdateTimestamp"),
		IndexLastUpdatePhyoffset: r.int64("indexLastUpdatePhyoffset"),
	}
	return h, r.err("QUERY_MESSAGE response")
}

// Ext renders h.
func (h QueryMessageResponseHeader) Ext() map[string]string {
	return map[string]string{
		"indexLastUpdateTimestamp": i64(h.IndexLastUpdateTimestamp),
		"indexLastUpdatePhyoffset": i64(h.IndexLastUpdatePhyoffset),
	}
}

// ViewMessageRequestHeader is the request of VIEW_MESSAGE_BY_ID (33).
type ViewMessageRequestHeader struct {
	// Offset is the commit-log offset decoded from an offset message ID.
	Offset int64
}

// DecodeViewMessageRequestHeader decodes VIEW_MESSAGE_BY_ID's ext.
func DecodeViewMessageRequestHeader(ext map[string]string) (ViewMessageRequestHeader, error) {
	r := extReader{ext: ext}
	h := ViewMessageRequestHeader{Offset: r.int64("offset")}
	return h, r.err("VIEW_MESSAGE_BY_ID")
}

// Ext renders h.
func (h ViewMessageRequestHeader) Ext() map[string]string {
	return map[string]string{"offset": i64(h.Offset)}
}
