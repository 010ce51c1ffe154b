package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// handleSend serves SEND_MESSAGE (10, V1 header), SEND_MESSAGE_V2 (310),
// SEND_BATCH_MESSAGE (320) and the reply sends (324, 325: stored, then
// pushed to the requester, see reply.go).
func (b *Broker) handleSend(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeSendHeader(req.Code, req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	tc, code, remark := b.checkSend(&h)
	if code != protocol.Success {
		return remoting.NewResponse(req, code, remark)
	}
	if h.QueueID < 0 {
		h.QueueID = rand.Int32N(max(tc.WriteQueueNums, 1))
	}
	if n := max(tc.ReadQueueNums, tc.WriteQueueNums); h.QueueID >= n {
		return remoting.NewResponse(req, protocol.SystemError,
			fmt.Sprintf("queueId %d out of range: topic %s has %d queues on broker %s", h.QueueID, h.Topic, n, b.cfg.BrokerName))
	}
	var msgs []*protocol.Message
	if req.Code == protocol.SendBatchMessage {
		msgs, code, remark = b.batchMessages(c, &h, req.Body)
	} else {
		var m *protocol.Message
		m, code, remark = b.singleMessage(c, &h, req.Body)
		msgs = []*protocol.Message{m}
	}
	if code != protocol.Success {
		return remoting.NewResponse(req, code, remark)
	}
	if strings.HasPrefix(h.Topic, RetryGroupPrefix) {
		b.retryOrDeadLetter(msgs, &h)
	}
	for _, m := range msgs {
		if code, remark = b.rerouteSpecial(m); code != protocol.Success {
			return remoting.NewResponse(req, code, remark)
		}
	}
	res, err := b.store.PutMessages(ctx, msgs)
	if err == nil {
		b.stats.putMessages.Add(int64(len(msgs)))
		if req.Code == protocol.SendReplyMessage || req.Code == protocol.SendReplyMessageV2 {
			return b.pushReply(ctx, req, &h, msgs[0], res)
		}
	}
	return b.sendResponse(req, msgs, h.QueueID, res, err)
}

// checkSend applies the checks before a send is stored: permissions, topic
// name, topic existence (auto-creating it when allowed).
func (b *Broker) checkSend(h *protocol.SendMessageHeader) (protocol.TopicConfig, int16, string) {
	if int32(b.cfg.BrokerPermission)&protocol.PermWrite == 0 {
		return protocol.TopicConfig{}, protocol.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden (brokerPermission=%d)", b.cfg.BrokerName, b.cfg.BrokerPermission)
	}
	if err := store.ValidTopic(h.Topic); err != nil {
		return protocol.TopicConfig{}, protocol.SystemError, err.Error()
	}
	if isSystemTopic(h.Topic) {
		return protocol.TopicConfig{}, protocol.NoPermission, fmt.Sprintf("the topic[%s] is a system topic; sending to it is forbidden", h.Topic)
	}
	tc, code, remark := b.topicForSend(h.Topic, h.DefaultTopic, h.DefaultTopicQueueNums)
	if code != protocol.Success {
		return tc, code, remark
	}
	if tc.Perm&protocol.PermWrite == 0 {
		return tc, protocol.NoPermission, fmt.Sprintf("the topic[%s] sending message is forbidden (perm=%d)", h.Topic, tc.Perm)
	}
	return tc, protocol.Success, ""
}

// storedProperties is what a stored message keeps of the sent properties
// props followed by extra (a batch header's properties, appended to each
// sub-message's; "" for a single send): all but WAIT, plus CLUSTER.
func (b *Broker) storedProperties(props, extra string) string {
	const wait = protocol.PropertyWaitStoreMsgOK + string(protocol.NameValueSeparator)
	const cluster = protocol.PropertyCluster + string(protocol.NameValueSeparator)
	if strings.Contains(props, wait) || strings.Contains(extra, wait) || strings.Contains(props, cluster) || strings.Contains(extra, cluster) {
		props = joinProperties(props, extra)
		props = protocol.DeleteProperty(props, protocol.PropertyWaitStoreMsgOK)
		return protocol.SetProperty(props, protocol.PropertyCluster, b.cfg.ClusterName)
	}
	// The common case, built with one allocation: nothing to delete or
	// replace, so SetProperty would only append.
	var sb strings.Builder
	sb.Grow(len(props) + len(extra) + len(cluster) + len(b.cfg.ClusterName) + 2)
	sb.WriteString(props)
	if extra != "" {
		if props != "" && props[len(props)-1] != protocol.PropertySeparator {
			sb.WriteByte(protocol.PropertySeparator)
		}
		sb.WriteString(extra)
	}
	if sb.Len() > 0 && !strings.HasSuffix(sb.String(), string(protocol.PropertySeparator)) {
		sb.WriteByte(protocol.PropertySeparator)
	}
	sb.WriteString(cluster)
	sb.WriteString(b.cfg.ClusterName)
	sb.WriteByte(protocol.PropertySeparator)
	return sb.String()
}

// joinProperties appends extra's pairs to props.
func joinProperties(props, extra string) string {
	if extra == "" {
		return props
	}
	if props != "" && !strings.HasSuffix(props, string(protocol.PropertySeparator)) {
		props += string(protocol.PropertySeparator)
	}
	return props + extra
}

func (b *Broker) bodyTooLarge(n int) (int16, string) {
	return protocol.MessageIllegal, fmt.Sprintf("the message body size %d bytes exceeds the limit of %d bytes (maxMessageSize); raise maxMessageSize in broker.conf or send smaller messages", n, b.cfg.Store.MaxMessageSize)
}

func (b *Broker) singleMessage(c *remoting.Conn, h *protocol.SendMessageHeader, body []byte) (*protocol.Message, int16, string) {
	if len(body) > b.cfg.Store.MaxMessageSize {
		code, remark := b.bodyTooLarge(len(body))
		return nil, code, remark
	}
	props := b.storedProperties(h.Properties, "")
	if len(props) > protocol.MaxPropertiesLength {
		return nil, protocol.MessageIllegal, fmt.Sprintf("the message properties are %d bytes, the limit is %d", len(props), protocol.MaxPropertiesLength)
	}
	return &protocol.Message{
		Topic:          h.Topic,
		QueueID:        h.QueueID,
		Flag:           h.Flag,
		SysFlag:        h.SysFlag,
		BornTimestamp:  h.BornTimestamp,
		BornHost:       peerAddr(c),
		ReconsumeTimes: h.ReconsumeTimes,
		Body:           body,
		Properties:     props,
	}, protocol.Success, ""
}

func (b *Broker) batchMessages(c *remoting.Conn, h *protocol.SendMessageHeader, body []byte) ([]*protocol.Message, int16, string) {
	if h.SysFlag&protocol.TransactionMask != 0 {
		return nil, protocol.MessageIllegal, "batch messages cannot be transactional"
	}
	if protocol.PropertyValue(h.Properties, protocol.PropertyDelayLevel) != "" {
		return nil, protocol.MessageIllegal, "batch messages cannot be delayed (DELAY on the batch)"
	}
	subs, err := protocol.DecodeBatch(body)
	if err != nil {
		return nil, protocol.MessageIllegal, "malformed batch body: " + err.Error()
	}
	born := peerAddr(c)
	// One allocation for the batch's messages.
	stored := make([]protocol.Message, len(subs))
	msgs := make([]*protocol.Message, len(subs))
	for i, sm := range subs {
		if len(sm.Body) > b.cfg.Store.MaxMessageSize {
			code, remark := b.bodyTooLarge(len(sm.Body))
			return nil, code, remark
		}
		props := b.storedProperties(sm.Properties, h.Properties)
		if len(props) > protocol.MaxPropertiesLength {
			return nil, protocol.MessageIllegal, fmt.Sprintf("the message properties are %d bytes, the limit is %d", len(props), protocol.MaxPropertiesLength)
		}
		stored[i] = protocol.Message{
			Topic: h.Topic, QueueID: h.QueueID, Flag: sm.Flag, SysFlag: h.SysFlag,
			BornTimestamp: h.BornTimestamp, BornHost: born, ReconsumeTimes: h.ReconsumeTimes,
			Body: sm.Body, Properties: props,
		}
		msgs[i] = &stored[i]
	}
	return msgs, protocol.Success, ""
}

// retryOrDeadLetter handles a send straight into a %RETRY% topic: a
// message that has been retried enough goes to the group's DLQ.
func (b *Broker) retryOrDeadLetter(msgs []*protocol.Message, h *protocol.SendMessageHeader) {
	group := strings.TrimPrefix(h.Topic, RetryGroupPrefix)
	limit := int32(b.maxReconsume(group))
	if h.HasMaxReconsumeTimes && h.MaxReconsumeTimes > 0 {
		limit = h.MaxReconsumeTimes
	}
	for _, m := range msgs {
		if m.ReconsumeTimes >= limit {
			if _, err := b.topics.putIfAbsent(newTopicConfig(DLQTopic(group), 1, protocol.PermRead|protocol.PermWrite)); err == nil {
				m.Topic, m.QueueID = DLQTopic(group), 0
			}
		}
	}
}

// maxReconsume is a group's retry limit.
func (b *Broker) maxReconsume(group string) int {
	if sg, ok := b.groups.get(group); ok && sg.RetryMaxTimes > 0 {
		return int(sg.RetryMaxTimes)
	}
	return b.cfg.MaxReconsumeTimes
}

// rerouteSpecial stores delayed messages in the schedule topic and
// transactional half messages in the half topic, remembering the real
// topic and queue in properties.
func (b *Broker) rerouteSpecial(m *protocol.Message) (int16, string) {
	switch m.SysFlag & protocol.TransactionMask {
	case protocol.TransactionPrep:
		b.toHalfTopic(m)
		return protocol.Success, ""
	case protocol.TransactionRoll:
		return protocol.Success, ""
	}
	lv := protocol.PropertyValue(m.Properties, protocol.PropertyDelayLevel)
	if lv == "" {
		return protocol.Success, ""
	}
	level, err := strconv.Atoi(lv)
	if err != nil {
		return protocol.MessageIllegal, fmt.Sprintf("DELAY %q is not a delay level (1..%d)", lv, len(b.cfg.MessageDelayLevel))
	}
	if level <= 0 {
		return protocol.Success, ""
	}
	level = min(level, len(b.cfg.MessageDelayLevel))
	b.toScheduleTopic(m, level)
	return protocol.Success, ""
}

// toScheduleTopic moves a message to the schedule topic queue of its delay
// level; delay.go delivers it when due.
func (b *Broker) toScheduleTopic(m *protocol.Message, level int) {
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealTopic, m.Topic)
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyDelayLevel, strconv.Itoa(level))
	m.Topic, m.QueueID = TopicSchedule, int32(level-1)
}

// tagCode is the consume-queue tag code of a record: the delivery time for
// delayed messages, the tag's hash otherwise.
func (b *Broker) tagCode(m *protocol.Message) int64 {
	if m.Topic == TopicSchedule {
		level, _ := strconv.Atoi(m.Property(protocol.PropertyDelayLevel))
		level = min(max(level, 1), len(b.cfg.MessageDelayLevel))
		return m.StoreTimestamp + b.cfg.MessageDelayLevel[level-1].Milliseconds()
	}
	return protocol.TagHash(m.Property(protocol.PropertyTags))
}

// sendResponse maps the store's answer to the response the clients know.
func (b *Broker) sendResponse(req *remoting.Command, msgs []*protocol.Message, queueID int32, res store.PutResult, err error) *remoting.Command {
	code := protocol.Success
	if err != nil {
		var remark string
		code, remark = storeErrorCode(err)
		if code != protocol.FlushDiskTimeout {
			return remoting.NewResponse(req, code, remark)
		}
	}
	// The IDs of a batch, comma-separated, rendered into one buffer.
	host := b.addrPort()
	ids := make([]byte, 0, len(res.Offsets)*(offsetIDLen(host)+1))
	for i, off := range res.Offsets {
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = protocol.AppendOffsetMessageID(ids, host, off)
	}
	resp := remoting.NewResponse(req, code, "")
	resp.ExtFields = map[string]string{
		"msgId":       string(ids),
		"queueId":     strconv.Itoa(int(queueID)),
		"queueOffset": itoa(res.QueueOffset),
		"MSG_REGION":  "DefaultRegion",
		"TRACE_ON":    "true",
	}
	if len(msgs) == 1 && msgs[0].SysFlag&protocol.TransactionMask == protocol.TransactionPrep {
		resp.ExtFields["transactionId"] = msgs[0].Property(protocol.PropertyUniqKey)
	}
	return resp
}

// offsetIDLen is the length of an offset message ID of host.
func offsetIDLen(host netip.AddrPort) int {
	if host.Addr().Unmap().Is6() {
		return 56
	}
	return 32
}

// storeErrorCode maps store errors to response codes and remarks that name
// the limit and the setting that changes it.
func storeErrorCode(err error) (int16, string) {
	switch {
	case errors.Is(err, store.ErrFlushTimeout):
		return protocol.FlushDiskTimeout, err.Error()
	case errors.Is(err, store.ErrDiskFull):
		return protocol.ServiceNotAvailable, "service not available now: " + err.Error() + "; free disk space or raise diskSpaceWarningLevelRatio"
	case errors.Is(err, store.ErrBusy):
		return protocol.SystemBusy, "[PC_SYNCHRONIZED]broker busy: " + err.Error()
	case errors.Is(err, store.ErrMessageTooLarge):
		return protocol.MessageIllegal, err.Error() + "; raise maxMessageSize in broker.conf or send smaller messages"
	case errors.Is(err, store.ErrInvalidTopic), errors.Is(err, protocol.ErrTopicLength), errors.Is(err, protocol.ErrPropsLength):
		return protocol.MessageIllegal, err.Error()
	case errors.Is(err, store.ErrClosed):
		return protocol.ServiceNotAvailable, "service not available now: the broker is shutting down"
	}
	return protocol.SystemError, err.Error()
}

// putInternal stores messages the broker makes itself (delayed deliveries,
// retries, commits).
func (b *Broker) putInternal(ctx context.Context, m *protocol.Message) (store.PutResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return b.store.PutMessage(ctx, m)
}
