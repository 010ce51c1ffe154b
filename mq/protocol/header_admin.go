package protocol

// This file holds the headers of NameServer requests, topic administration
// and the admin/tooling requests that reach a broker or, through it, a
// client.

// CreateTopicRequestHeader is the request of UPDATE_AND_CREATE_TOPIC (17).
type CreateTopicRequestHeader struct {
	Topic string
	// DefaultTopic is required on the wire but unused (the Go admin sends the
	// literal "defaultTopic").
	DefaultTopic    string
	ReadQueueNums   int32
	WriteQueueNums  int32
	Perm            int32
	TopicFilterType string // TopicFilterSingleTag or TopicFilterMultiTag
	TopicSysFlag    int32  // optional, 0 when absent
	// Order is optional (Java's field defaults to false).
	Order bool
}

// DecodeCreateTopicRequestHeader decodes UPDATE_AND_CREATE_TOPIC's ext.
func DecodeCreateTopicRequestHeader(ext map[string]string) (CreateTopicRequestHeader, error) {
	r := extReader{ext: ext}
	h := CreateTopicRequestHeader{
		Topic:           r.str("topic"),
		DefaultTopic:    r.str("defaultTopic"),
		ReadQueueNums:   r.int32("readQueueNums"),
		WriteQueueNums:  r.int32("writeQueueNums"),
		Perm:            r.int32("perm"),
		TopicFilterType: r.str("topicFilterType"),
		Order:           r.bool("order"),
	}
	h.TopicSysFlag, _ = r.optInt32("topicSysFlag", 0)
	return h, r.err("UPDATE_AND_CREATE_TOPIC")
}

// Ext renders h.
func (h CreateTopicRequestHeader) Ext() map[string]string {
	return map[string]string{
		"topic":           h.Topic,
		"defaultTopic":    h.DefaultTopic,
		"readQueueNums":   i32(h.ReadQueueNums),
		"writeQueueNums":  i32(h.WriteQueueNums),
		"perm":            i32(h.Perm),
		"topicFilterType": h.TopicFilterType,
		"topicSysFlag":    i32(h.TopicSysFlag),
		"order":           btoa(h.Order),
	}
}

// TopicConfig returns the topic configuration h asks for.
func (h CreateTopicRequestHeader) TopicConfig() TopicConfig {
	return TopicConfig{
		TopicName:       h.Topic,
		ReadQueueNums:   h.ReadQueueNums,
		WriteQueueNums:  h.WriteQueueNums,
		Perm:            h.Perm,
		TopicFilterType: h.TopicFilterType,
		TopicSysFlag:    h.TopicSysFlag,
		Order:           h.Order,
	}
}

// DeleteTopicRequestHeader is the request of DELETE_TOPIC_IN_BROKER (215)
// and DELETE_TOPIC_IN_NAMESRV (216).
type DeleteTopicRequestHeader struct {
	Topic string
	// ClusterName is optional and only meaningful for 216: delete only that
	// cluster's queue data (Java 4.9.7).
	ClusterName string
}

// DecodeDeleteTopicRequestHeader decodes the ext of codes 215 and 216.
func DecodeDeleteTopicRequestHeader(ext map[string]string) (DeleteTopicRequestHeader, error) {
	r := extReader{ext: ext}
	h := DeleteTopicRequestHeader{
		Topic:       r.str("topic"),
		ClusterName: r.optStr("clusterName"),
	}
	return h, r.err("DELETE_TOPIC")
}

// Ext renders h.
func (h DeleteTopicRequestHeader) Ext() map[string]string {
	ext := map[string]string{"topic": h.Topic}
	putOpt(ext, "clusterName", h.ClusterName)
	return ext
}

// TopicRequestHeader names a topic. It is the request of
// GET_TOPIC_STATS_INFO (202) and QUERY_TOPIC_CONSUME_BY_WHO (300).
type TopicRequestHeader struct {
	Topic string
}

// DecodeTopicRequestHeader decodes the ext of codes 202 and 300.
func DecodeTopicRequestHeader(ext map[string]string) (TopicRequestHeader, error) {
	r := extReader{ext: ext}
	h := TopicRequestHeader{Topic: r.str("topic")}
	return h, r.err("topic")
}

// Ext renders h.
func (h TopicRequestHeader) Ext() map[string]string {
	return map[string]string{"topic": h.Topic}
}

// GetRouteInfoRequestHeader is the request of GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic string
	// AcceptStandardJSONOnly (optional, Java 4.9.7) asks for strictly valid
	// JSON. Surge always answers with valid JSON.
	AcceptStandardJSONOnly bool
}

// DecodeGetRouteInfoRequestHeader decodes GET_ROUTEINFO_BY_TOPIC's ext.
func DecodeGetRouteInfoRequestHeader(ext map[string]string) (GetRouteInfoRequestHeader, error) {
	r := extReader{ext: ext}
	h := GetRouteInfoRequestHeader{
		Topic:                  r.str("topic"),
		AcceptStandardJSONOnly: r.bool("acceptStandardJsonOnly"),
	}
	return h, r.err("GET_ROUTEINFO_BY_TOPIC")
}

// Ext renders h.
func (h GetRouteInfoRequestHeader) Ext() map[string]string {
	ext := map[string]string{"topic": h.Topic}
	if h.AcceptStandardJSONOnly {
		ext["acceptStandardJsonOnly"] = "true"
	}
	return ext
}

// RegisterBrokerRequestHeader is the request of REGISTER_BROKER (103); the
// body is a RegisterBrokerBody.
type RegisterBrokerRequestHeader struct {
	BrokerName string
	// BrokerAddr is the "ip:port" clients should dial.
	BrokerAddr   string
	ClusterName  string
	HAServerAddr string
	// BrokerID is 0 for a master, >0 for a slave.
	BrokerID int64
	// Compressed says the body uses the zlib form (DecodeRegisterBrokerBody).
	Compressed bool
	// BodyCRC32 is BodyChecksum of the body; 0 means unchecked.
	BodyCRC32 int32
}

// DecodeRegisterBrokerRequestHeader decodes REGISTER_BROKER's ext.
func DecodeRegisterBrokerRequestHeader(ext map[string]string) (RegisterBrokerRequestHeader, error) {
	r := extReader{ext: ext}
	h := RegisterBrokerRequestHeader{
		BrokerName:   r.str("brokerName"),
		BrokerAddr:   r.str("brokerAddr"),
		ClusterName:  r.str("clusterName"),
		HAServerAddr: r.str("haServerAddr"),
		BrokerID:     r.int64("brokerId"),
		Compressed:   r.bool("compressed"),
	}
	h.BodyCRC32, _ = r.optInt32("bodyCrc32", 0)
	return h, r.err("REGISTER_BROKER")
}

// Ext renders h.
func (h RegisterBrokerRequestHeader) Ext() map[string]string {
	return map[string]string{
		"brokerName":   h.BrokerName,
		"brokerAddr":   h.BrokerAddr,
		"clusterName":  h.ClusterName,
		"haServerAddr": h.HAServerAddr,
		"brokerId":     i64(h.BrokerID),
		"compressed":   btoa(h.Compressed),
		"bodyCrc32":    i32(h.BodyCRC32),
	}
}

// RegisterBrokerResponseHeader is the response ext of REGISTER_BROKER: for
// a slave, where its master is. Both fields are optional.
type RegisterBrokerResponseHeader struct {
	HAServerAddr string
	MasterAddr   string
}

// DecodeRegisterBrokerResponseHeader decodes REGISTER_BROKER's response ext.
// It cannot fail; the error is there for symmetry with the other decoders.
func DecodeRegisterBrokerResponseHeader(ext map[string]string) (RegisterBrokerResponseHeader, error) {
	r := extReader{ext: ext}
	h := RegisterBrokerResponseHeader{
		HAServerAddr: r.optStr("haServerAddr"),
		MasterAddr:   r.optStr("masterAddr"),
	}
	return h, r.err("REGISTER_BROKER response")
}

// Ext renders h, leaving out empty fields.
func (h RegisterBrokerResponseHeader) Ext() map[string]string {
	ext := map[string]string{}
	putOpt(ext, "haServerAddr", h.HAServerAddr)
	putOpt(ext, "masterAddr", h.MasterAddr)
	return ext
}

// BrokerIdentityHeader names one broker process. It is the request of
// UNREGISTER_BROKER (104) and QUERY_DATA_VERSION (322; body: the broker's
// DataVersion).
type BrokerIdentityHeader struct {
	BrokerName  string
	BrokerAddr  string
	ClusterName string
	BrokerID    int64
}

// DecodeBrokerIdentityHeader decodes the ext of codes 104 and 322.
func DecodeBrokerIdentityHeader(ext map[string]string) (BrokerIdentityHeader, error) {
	r := extReader{ext: ext}
	h := BrokerIdentityHeader{
		BrokerName:  r.str("brokerName"),
		BrokerAddr:  r.str("brokerAddr"),
		ClusterName: r.str("clusterName"),
		BrokerID:    r.int64("brokerId"),
	}
	return h, r.err("broker identity")
}

// Ext renders h.
func (h BrokerIdentityHeader) Ext() map[string]string {
	return map[string]string{
		"brokerName":  h.BrokerName,
		"brokerAddr":  h.BrokerAddr,
		"clusterName": h.ClusterName,
		"brokerId":    i64(h.BrokerID),
	}
}

// QueryDataVersionResponseHeader is the response ext of QUERY_DATA_VERSION.
type QueryDataVersionResponseHeader struct {
	// Changed says the broker's DataVersion differs from the NameServer's.
	Changed bool
}

// DecodeQueryDataVersionResponseHeader decodes QUERY_DATA_VERSION's
// response ext.
func DecodeQueryDataVersionResponseHeader(ext map[string]string) (QueryDataVersionResponseHeader, error) {
	r := extReader{ext: ext}
	h := QueryDataVersionResponseHeader{Changed: r.reqBool("changed")}
	return h, r.err("QUERY_DATA_VERSION response")
}

// Ext renders h.
func (h QueryDataVersionResponseHeader) Ext() map[string]string {
	return map[string]string{"changed": btoa(h.Changed)}
}

// ResetOffsetRequestHeader is the request of INVOKE_BROKER_TO_RESET_OFFSET
// (222, admin to broker) and RESET_CONSUMER_CLIENT_OFFSET (220, broker to
// client; body: ResetOffsetBody).
type ResetOffsetRequestHeader struct {
	Topic string
	Group string
	// Timestamp (ms) to reset to; -1 means to the max offset.
	Timestamp int64
	IsForce   bool
}

// DecodeResetOffsetRequestHeader decodes the ext of codes 220 and 222.
func DecodeResetOffsetRequestHeader(ext map[string]string) (ResetOffsetRequestHeader, error) {
	r := extReader{ext: ext}
	h := ResetOffsetRequestHeader{
		Topic:     r.str("topic"),
		Group:     r.str("group"),
		Timestamp: r.int64("timestamp"),
		IsForce:   r.reqBool("isForce"),
	}
	return h, r.err("RESET_OFFSET")
}

// Ext renders h.
func (h ResetOffsetRequestHeader) Ext() map[string]string {
	return map[string]string{
		"topic":     h.Topic,
		"group":     h.Group,
		"timestamp": i64(h.Timestamp),
		"isForce":   btoa(h.IsForce),
	}
}

// GetConsumerStatusRequestHeader is the request of
// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223) and
// GET_CONSUMER_STATUS_FROM_CLIENT (221).
type GetConsumerStatusRequestHeader struct {
	Topic string
	Group string
	// ClientAddr is optional: only the client at this address.
	ClientAddr string
}

// DecodeGetConsumerStatusRequestHeader decodes the ext of codes 221 and 223.
func DecodeGetConsumerStatusRequestHeader(ext map[string]string) (GetConsumerStatusRequestHeader, error) {
	r := extReader{ext: ext}
	h := GetConsumerStatusRequestHeader{
		Topic:      r.str("topic"),
		Group:      r.str("group"),
		ClientAddr: r.optStr("clientAddr"),
	}
	return h, r.err("GET_CONSUMER_STATUS")
}

// Ext renders h.
func (h GetConsumerStatusRequestHeader) Ext() map[string]string {
	ext := map[string]string{"topic": h.Topic, "group": h.Group}
	putOpt(ext, "clientAddr", h.ClientAddr)
	return ext
}

// GetConsumeStatsRequestHeader is the request of GET_CONSUME_STATS (208).
type GetConsumeStatsRequestHeader struct {
	ConsumerGroup string
	// Topic is optional: empty means every topic the group subscribes.
	Topic string
}

// DecodeGetConsumeStatsRequestHeader decodes GET_CONSUME_STATS's ext.
func DecodeGetConsumeStatsRequestHeader(ext map[string]string) (GetConsumeStatsRequestHeader, error) {
	r := extReader{ext: ext}
	h := GetConsumeStatsRequestHeader{
		ConsumerGroup: r.str("consumerGroup"),
		Topic:         r.optStr("topic"),
	}
	return h, r.err("GET_CONSUME_STATS")
}

// Ext renders h.
func (h GetConsumeStatsRequestHeader) Ext() map[string]string {
	ext := map[string]string{"consumerGroup": h.ConsumerGroup}
	putOpt(ext, "topic", h.Topic)
	return ext
}

// GetProducerConnectionListRequestHeader is the request of
// GET_PRODUCER_CONNECTION_LIST (204).
type GetProducerConnectionListRequestHeader struct {
	ProducerGroup string
}

// DecodeGetProducerConnectionListRequestHeader decodes the ext of code 204.
func DecodeGetProducerConnectionListRequestHeader(ext map[string]string) (GetProducerConnectionListRequestHeader, error) {
	r := extReader{ext: ext}
	h := GetProducerConnectionListRequestHeader{ProducerGroup: r.str("producerGroup")}
	return h, r.err("GET_PRODUCER_CONNECTION_LIST")
}

// Ext renders h.
func (h GetProducerConnectionListRequestHeader) Ext() map[string]string {
	return map[string]string{"producerGroup": h.ProducerGroup}
}

// GetConsumerRunningInfoRequestHeader is the request of
// GET_CONSUMER_RUNNING_INFO (307), which a broker forwards from an admin
// tool to the client registered under ClientID.
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string
	ClientID      string
	JstackEnable  bool
}

// DecodeGetConsumerRunningInfoRequestHeader decodes the ext of code 307.
func DecodeGetConsumerRunningInfoRequestHeader(ext map[string]string) (GetConsumerRunningInfoRequestHeader, error) {
	r := extReader{ext: ext}
	h := GetConsumerRunningInfoRequestHeader{
		ConsumerGroup: r.str("consumerGroup"),
		ClientID:      r.str("clientId"),
		JstackEnable:  r.bool("jstackEnable"),
	}
	return h, r.err("GET_CONSUMER_RUNNING_INFO")
}

// Ext renders h.
func (h GetConsumerRunningInfoRequestHeader) Ext() map[string]string {
	return map[string]string{
		"consumerGroup": h.ConsumerGroup,
		"clientId":      h.ClientID,
		"jstackEnable":  btoa(h.JstackEnable),
	}
}

// ConsumeMessageDirectlyRequestHeader is the request of
// CONSUME_MESSAGE_DIRECTLY (309). The body must hold exactly one stored
// message: the Go client indexes the first without checking.
type ConsumeMessageDirectlyRequestHeader struct {
	ConsumerGroup string
	// ClientID, MsgID and BrokerName are optional on the wire.
	ClientID string
	// MsgID is the offset message ID the broker read the body from.
	MsgID      string
	BrokerName string
}

// DecodeConsumeMessageDirectlyRequestHeader decodes the ext of code 309.
func DecodeConsumeMessageDirectlyRequestHeader(ext map[string]string) (ConsumeMessageDirectlyRequestHeader, error) {
	r := extReader{ext: ext}
	h := ConsumeMessageDirectlyRequestHeader{
		ConsumerGroup: r.str("consumerGroup"),
		ClientID:      r.optStr("clientId"),
		MsgID:         r.optStr("msgId"),
		BrokerName:    r.optStr("brokerName"),
	}
	return h, r.err("CONSUME_MESSAGE_DIRECTLY")
}

// Ext renders h.
func (h ConsumeMessageDirectlyRequestHeader) Ext() map[string]string {
	ext := map[string]string{"consumerGroup": h.ConsumerGroup}
	putOpt(ext, "clientId", h.ClientID)
	putOpt(ext, "msgId", h.MsgID)
	putOpt(ext, "brokerName", h.BrokerName)
	return ext
}
