package protocol

import "fmt"

// SendMessageHeader is the request header of every send: SEND_MESSAGE (10)
// and SEND_REPLY_MESSAGE (324) carry it with long key names ("V1"),
// SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE_V2
// (325) with one-letter names a..n ("V2"). The Go client uses 10 for single
// messages and 320 for batches; Java clients use 310. Decoding both into one
// struct lets the send path ignore which form arrived, as Java's
// AbstractSendMessageProcessor.parseRequestHeader does.
type SendMessageHeader struct {
	ProducerGroup string // V1 producerGroup, V2 a
	Topic         string // b
	// DefaultTopic is the auto-create template (normally TBW102); the Go
	// client hard-codes TBW102 in V1.
	DefaultTopic          string // c
	DefaultTopicQueueNums int32  // d
	// QueueID is the queue the producer picked; negative asks the broker to
	// pick one.
	QueueID int32 // e
	// SysFlag holds message sysflag bits: FlagCompressed, TransactionPrep.
	SysFlag       int32  // f
	BornTimestamp int64  // g, ms since the epoch, producer clock
	Flag          int32  // h, user flag, stored verbatim
	Properties    string // i, see ParseProperties
	// ReconsumeTimes is 0 from producers; optional (0 when absent).
	ReconsumeTimes int32 // j
	UnitMode       bool  // k
	// MaxReconsumeTimes only matters for sends into a %RETRY% topic. It is
	// optional: HasMaxReconsumeTimes says whether it came (Java then uses it
	// instead of the group's retryMaxTimes). The Go client always sends 0.
	MaxReconsumeTimes    int32 // l
	HasMaxReconsumeTimes bool
	// Batch is m=true on SEND_BATCH_MESSAGE from the Go client. Dispatch on
	// the request code, not on this flag: Java does.
	Batch bool // m
	// BrokerName is optional (V2 n, V1 bname); only Java 4.9.7+ RPC
	// layers set it.
	BrokerName string
}

// DecodeSendHeader decodes the ext fields of a send request by code: V1 for
// SendMessage and SendReplyMessage, V2 for SendMessageV2, SendBatchMessage
// and SendReplyMessageV2. Another code is an error.
func DecodeSendHeader(code int16, ext map[string]string) (SendMessageHeader, error) {
	switch code {
	case SendMessage, SendReplyMessage:
		return decodeSendV1(ext)
	case SendMessageV2, SendBatchMessage, SendReplyMessageV2:
		return decodeSendV2(ext)
	}
	return SendMessageHeader{}, fmt.Errorf("decode send header: request code %d is not a send", code)
}

func decodeSendV1(ext map[string]string) (SendMessageHeader, error) {
	r := extReader{ext: ext}
	h := SendMessageHeader{
		ProducerGroup:         r.str("producerGroup"),
		Topic:                 r.str("topic"),
		DefaultTopic:          r.str("defaultTopic"),
		DefaultTopicQueueNums: r.int32("defaultTopicQueueNums"),
		QueueID:               r.int32("queueId"),
		SysFlag:               r.int32("sysFlag"),
		BornTimestamp:         r.int64("bornTimestamp"),
		Flag:                  r.int32("flag"),
		Properties:            r.optStr("properties"),
		UnitMode:              r.bool("unitMode"),
		Batch:                 r.bool("batch"),
		BrokerName:            r.optStr("bname"),
	}
	h.ReconsumeTimes, _ = r.optInt32("reconsumeTimes", 0)
	h.MaxReconsumeTimes, h.HasMaxReconsumeTimes = r.optInt32("maxReconsumeTimes", 0)
	return h, r.err("SEND_MESSAGE")
}

func decodeSendV2(ext map[string]string) (SendMessageHeader, error) {
	r := extReader{ext: ext}
	h := SendMessageHeader{
		ProducerGroup:         r.str("a"),
		Topic:                 r.str("b"),
		DefaultTopic:          r.str("c"),
		DefaultTopicQueueNums: r.int32("d"),
		QueueID:               r.int32("e"),
		SysFlag:               r.int32("f"),
		BornTimestamp:         r.int64("g"),
		Flag:                  r.int32("h"),
		Properties:            r.optStr("i"),
		UnitMode:              r.bool("k"),
		Batch:                 r.bool("m"),
		BrokerName:            r.optStr("n"),
	}
	h.ReconsumeTimes, _ = r.optInt32("j", 0)
	h.MaxReconsumeTimes, h.HasMaxReconsumeTimes = r.optInt32("l", 0)
	return h, r.err("SEND_MESSAGE_V2")
}

// Ext renders h with the V1 key names (codes 10 and 324).
func (h SendMessageHeader) Ext() map[string]string {
	ext := map[string]string{
		"producerGroup":         h.ProducerGroup,
		"topic":                 h.Topic,
		"defaultTopic":          h.DefaultTopic,
		"defaultTopicQueueNums": i32(h.DefaultTopicQueueNums),
		"queueId":               i32(h.QueueID),
		"sysFlag":               i32(h.SysFlag),
		"bornTimestamp":         i64(h.BornTimestamp),
		"flag":                  i32(h.Flag),
		"properties":            h.Properties,
		"reconsumeTimes":        i32(h.ReconsumeTimes),
		"unitMode":              btoa(h.UnitMode),
		"batch":                 btoa(h.Batch),
	}
	if h.HasMaxReconsumeTimes {
		ext["maxReconsumeTimes"] = i32(h.MaxReconsumeTimes)
	}
	putOpt(ext, "bname", h.BrokerName)
	return ext
}

// ExtV2 renders h with the V2 one-letter names (codes 310, 320 and 325).
func (h SendMessageHeader) ExtV2() map[string]string {
	ext := map[string]string{
		"a": h.ProducerGroup,
		"b": h.Topic,
		"c": h.DefaultTopic,
		"d": i32(h.DefaultTopicQueueNums),
		"e": i32(h.QueueID),
		"f": i32(h.SysFlag),
		"g": i64(h.BornTimestamp),
		"h": i32(h.Flag),
		"i": h.Properties,
		"j": i32(h.ReconsumeTimes),
		"k": btoa(h.UnitMode),
		"m": btoa(h.Batch),
	}
	if h.HasMaxReconsumeTimes {
		ext["l"] = i32(h.MaxReconsumeTimes)
	}
	putOpt(ext, "n", h.BrokerName)
	return ext
}

// DefaultRegion is the region ID Java brokers report in MSG_REGION unless
// configured otherwise; the Go client assumes it when the field is absent.
const DefaultRegion = "DefaultRegion"

// SendMessageResponseHeader is the response ext of a successful send (codes
// 0, 10, 11, 12). MsgID, QueueID and QueueOffset are required: Java clients
// refuse a send response without them.
type SendMessageResponseHeader struct {
	// MsgID is the offset message ID (OffsetMessageID); for a batch, the IDs
	// of every sub-message joined by commas.
	MsgID string
	// QueueID is the queue actually written.
	QueueID int32
	// QueueOffset is the consume-queue offset of the (first) message.
	QueueOffset int64
	// TransactionID is optional; Java brokers never set it.
	TransactionID string
	// MsgRegion is the MSG_REGION field; DefaultRegion when empty.
	MsgRegion string
	// TraceOn is the TRACE_ON field. The Go client reads any value but
	// "false" (and empty) as true.
	TraceOn bool
}

// DecodeSendMessageResponseHeader decodes a send response's ext.
func DecodeSendMessageResponseHeader(ext map[string]string) (SendMessageResponseHeader, error) {
	r := extReader{ext: ext}
	h := SendMessageResponseHeader{
		MsgID:         r.str("msgId"),
		QueueID:       r.int32("queueId"),
		QueueOffset:   r.int64("queueOffset"),
		TransactionID: r.optStr("transactionId"),
		MsgRegion:     r.optStr(PropertyMsgRegion),
	}
	if h.MsgRegion == "" {
		h.MsgRegion = DefaultRegion
	}
	tr := r.optStr(PropertyTraceSwitch)
	h.TraceOn = tr != "" && tr != "false"
	return h, r.err("SEND_MESSAGE response")
}

// Ext renders h. MSG_REGION and TRACE_ON are always present, as Java's
// SendMessageProcessor adds them to every send response.
func (h SendMessageResponseHeader) Ext() map[string]string {
	region := h.MsgRegion
	if region == "" {
		region = DefaultRegion
	}
	ext := map[string]string{
		"msgId":             h.MsgID,
		"queueId":           i32(h.QueueID),
		"queueOffset":       i64(h.QueueOffset),
		PropertyMsgRegion:   region,
		PropertyTraceSwitch: btoa(h.TraceOn),
	}
	putOpt(ext, "transactionId", h.TransactionID)
	return ext
}

// EndTransactionRequestHeader is the request of END_TRANSACTION (37): the
// producer's verdict on a half message.
type EndTransactionRequestHeader struct {
	ProducerGroup string
	// TranStateTableOffset is the half message's queue offset (the send
	// response's queueOffset, or the check request's value).
	TranStateTableOffset int64
	// CommitLogOffset is the half message's commit-log offset (decoded from
	// the send response's msgId by the client).
	CommitLogOffset int64
	// CommitOrRollback is TransactionCommit (8), TransactionRoll (12) or
	// TransactionNot (0: unknown yet, which Java ignores without answering).
	CommitOrRollback int32
	// FromTransactionCheck is true when this answers CHECK_TRANSACTION_STATE.
	FromTransactionCheck bool
	// MsgID is the UNIQ_KEY of the message.
	MsgID         string
	TransactionID string
}

// DecodeEndTransactionRequestHeader decodes END_TRANSACTION's ext.
func DecodeEndTransactionRequestHeader(ext map[string]string) (EndTransactionRequestHeader, error) {
	r := extReader{ext: ext}
	h := EndTransactionRequestHeader{
		ProducerGroup:        r.str("producerGroup"),
		TranStateTableOffset: r.int64("tranStateTableOffset"),
		CommitLogOffset:      r.int64("commitLogOffset"),
		CommitOrRollback:     r.int32("commitOrRollback"),
		FromTransactionCheck: r.bool("fromTransactionCheck"),
		MsgID:                r.str("msgId"),
		TransactionID:        r.optStr("transactionId"),
	}
	return h, r.err("END_TRANSACTION")
}

// Ext renders h.
func (h EndTransactionRequestHeader) Ext() map[string]string {
	ext := map[string]string{
		"producerGroup":        h.ProducerGroup,
		"tranStateTableOffset": i64(h.TranStateTableOffset),
		"commitLogOffset":      i64(h.CommitLogOffset),
		"commitOrRollback":     i32(h.CommitOrRollback),
		"fromTransactionCheck": btoa(h.FromTransactionCheck),
		"msgId":                h.MsgID,
	}
	putOpt(ext, "transactionId", h.TransactionID)
	return ext
}

// CheckTransactionStateRequestHeader is the broker-to-client request
// CHECK_TRANSACTION_STATE (39). The Go client only uses the two offsets
// (it echoes them in END_TRANSACTION); its decoder mixes up the three IDs,
// so the body's UNIQ_KEY and PGROUP are what count.
type CheckTransactionStateRequestHeader struct {
	TranStateTableOffset int64
	CommitLogOffset      int64
	MsgID                string // UNIQ_KEY
	TransactionID        string // Java sends the UNIQ_KEY here too
	OffsetMsgID          string // offset message ID of the half message
}

// DecodeCheckTransactionStateRequestHeader decodes CHECK_TRANSACTION_STATE's
// ext.
func DecodeCheckTransactionStateRequestHeader(ext map[string]string) (CheckTransactionStateRequestHeader, error) {
	r := extReader{ext: ext}
	h := CheckTransactionStateRequestHeader{
		TranStateTableOffset: r.int64("tranStateTableOffset"),
		CommitLogOffset:      r.int64("commitLogOffset"),
		MsgID:                r.optStr("msgId"),
		TransactionID:        r.optStr("transactionId"),
		OffsetMsgID:          r.optStr("offsetMsgId"),
	}
	return h, r.err("CHECK_TRANSACTION_STATE")
}

// Ext renders h.
func (h CheckTransactionStateRequestHeader) Ext() map[string]string {
	ext := map[string]string{
		"tranStateTableOffset": i64(h.TranStateTableOffset),
		"commitLogOffset":      i64(h.CommitLogOffset),
	}
	putOpt(ext, "msgId", h.MsgID)
	putOpt(ext, "transactionId", h.TransactionID)
	putOpt(ext, "offsetMsgId", h.OffsetMsgID)
	return ext
}

// ConsumerSendMsgBackRequestHeader is the request of CONSUMER_SEND_MSG_BACK
// (36): a consumer hands back a message it failed to consume.
type ConsumerSendMsgBackRequestHeader struct {
	// Offset is the commit-log offset (PHYSICALOFFSET) of the message.
	Offset int64
	Group  string
	// DelayLevel: 0 lets the broker pick 3+reconsumeTimes; negative sends
	// the message straight to the DLQ.
	DelayLevel  int32
	OriginMsgID string
	OriginTopic string
	UnitMode    bool
	// MaxReconsumeTimes is optional (HasMaxReconsumeTimes); -1 from the Go
	// client means the default, 16.
	MaxReconsumeTimes    int32
	HasMaxReconsumeTimes bool
}

// DecodeConsumerSendMsgBackRequestHeader decodes CONSUMER_SEND_MSG_BACK's
// ext.
func DecodeConsumerSendMsgBackRequestHeader(ext map[string]string) (ConsumerSendMsgBackRequestHeader, error) {
	r := extReader{ext: ext}
	h := ConsumerSendMsgBackRequestHeader{
		Offset:      r.int64("offset"),
		Group:       r.str("group"),
		DelayLevel:  r.int32("delayLevel"),
		OriginMsgID: r.optStr("originMsgId"),
		OriginTopic: r.optStr("originTopic"),
		UnitMode:    r.bool("unitMode"),
	}
	h.MaxReconsumeTimes, h.HasMaxReconsumeTimes = r.optInt32("maxReconsumeTimes", 0)
	return h, r.err("CONSUMER_SEND_MSG_BACK")
}

// Ext renders h.
func (h ConsumerSendMsgBackRequestHeader) Ext() map[string]string {
	ext := map[string]string{
		"offset":     i64(h.Offset),
		"group":      h.Group,
		"delayLevel": i32(h.DelayLevel),
		"unitMode":   btoa(h.UnitMode),
	}
	putOpt(ext, "originMsgId", h.OriginMsgID)
	putOpt(ext, "originTopic", h.OriginTopic)
	if h.HasMaxReconsumeTimes {
		ext["maxReconsumeTimes"] = i32(h.MaxReconsumeTimes)
	}
	return ext
}

// PushReplyMessageRequestHeader is the broker-to-client request
// PUSH_REPLY_MESSAGE_TO_CLIENT (326): a reply message forwarded to the
// requester. It is the send header plus where and when the reply was stored.
type PushReplyMessageRequestHeader struct {
	ProducerGroup         string
	Topic                 string
	DefaultTopic          string
	DefaultTopicQueueNums int32
	QueueID               int32
	SysFlag               int32
	BornTimestamp         int64
	Flag                  int32
	Properties            string
	ReconsumeTimes        int32
	UnitMode              bool
	// BornHost is "ip:port" of the replier's connection.
	BornHost string
	// StoreHost is "ip:port" of the broker.
	StoreHost      string
	StoreTimestamp int64
}

// DecodePushReplyMessageRequestHeader decodes PUSH_REPLY_MESSAGE_TO_CLIENT's
// ext.
func DecodePushReplyMessageRequestHeader(ext map[string]string) (PushReplyMessageRequestHeader, error) {
	r := extReader{ext: ext}
	h := PushReplyMessageRequestHeader{
		ProducerGroup:         r.str("producerGroup"),
		Topic:                 r.str("topic"),
		DefaultTopic:          r.str("defaultTopic"),
		DefaultTopicQueueNums: r.int32("defaultTopicQueueNums"),
		QueueID:               r.int32("queueId"),
		SysFlag:               r.int32("sysFlag"),
		BornTimestamp:         r.int64("bornTimestamp"),
		Flag:                  r.int32("flag"),
		Properties:            r.optStr("properties"),
		UnitMode:              r.bool("unitMode"),
		BornHost:              r.str("bornHost"),
		StoreHost:             r.str("storeHost"),
		StoreTimestamp:        r.int64("storeTimestamp"),
	}
	h.ReconsumeTimes, _ = r.optInt32("reconsumeTimes", 0)
	return h, r.err("PUSH_REPLY_MESSAGE_TO_CLIENT")
}

// Ext renders h.
func (h PushReplyMessageRequestHeader) Ext() map[string]string {
	return map[string]string{
		"producerGroup":         h.ProducerGroup,
		"topic":                 h.Topic,
		"defaultTopic":          h.DefaultTopic,
		"defaultTopicQueueNums": i32(h.DefaultTopicQueueNums),
		"queueId":               i32(h.QueueID),
		"sysFlag":               i32(h.SysFlag),
		"bornTimestamp":         i64(h.BornTimestamp),
		"flag":                  i32(h.Flag),
		"properties":            h.Properties,
		"reconsumeTimes":        i32(h.ReconsumeTimes),
		"unitMode":              btoa(h.UnitMode),
		"bornHost":              h.BornHost,
		"storeHost":             h.StoreHost,
		"storeTimestamp":        i64(h.StoreTimestamp),
	}
}
