package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// Retries and dead letters
//
// A clustering consumer that fails a message hands it back with
// CONSUMER_SEND_MSG_BACK, naming it by commit-log offset. The broker looks
// the record up and stores a copy for the group alone:
//
//   - while the message has been consumed fewer than maxReconsumeTimes
//     times, in %RETRY%<group>, through the schedule topic, so that it
//     comes back after delay level 3 + reconsumeTimes (10 s, 30 s, 1 m, ...
//     with the default levels) or the level the consumer asked for;
//   - after that, or when the consumer asks for level -1, in
//     %DLQ%<group> at once, where nothing consumes it automatically.
//
// The copy keeps the body, flag, sysFlag, born time and host and the
// properties (UNIQ_KEY with them, so the consumer sees the same message
// id), gains RETRY_TOPIC (the topic it was first sent to) and
// ORIGIN_MESSAGE_ID (the offset id of the first copy handed back) unless it
// has them already, and counts one more reconsume time.
//
// The official Go client takes any answer to this request as success and
// moves its offset past the message: an error answer loses it for the
// group. So the handler answers an error only when it could not store the
// copy, tries a busy store again for a while, and counts a copy that is
// stored but not yet synced as stored.

// sendBackBusyWait bounds how long a send-back tries again while the store
// is busy. The Go client waits 3 s for the answer, and treats no answer as
// a failure it retries itself, which is better than an error answer.
const sendBackBusyWait = 2 * time.Second

// routeRetry registers CONSUMER_SEND_MSG_BACK.
func (b *Broker) routeRetry(mux *remoting.Mux) {
	mux.HandleFunc(protocol.ConsumerSendMsgBack, b.handleSendBack)
}

// handleSendBack serves CONSUMER_SEND_MSG_BACK (36).
func (b *Broker) handleSendBack(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeConsumerSendMsgBackRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if h.Group == "" {
		return remoting.NewResponse(req, protocol.SystemError, "CONSUMER_SEND_MSG_BACK without a consumer group")
	}
	retryTopic := RetryTopic(h.Group)
	if err := store.ValidTopic(retryTopic); err != nil {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("consumer group %q cannot have a retry topic: %v", h.Group, err))
	}
	if err := b.groups.ensure(h.Group, *b.cfg.AutoCreateSubscriptionGroup); err != nil {
		return remoting.NewResponse(req, protocol.SubscriptionGroupNotExist, err.Error())
	}
	sg, ok := b.groups.get(h.Group)
	if !ok {
		return remoting.NewResponse(req, protocol.SubscriptionGroupNotExist, fmt.Sprintf("subscription group %s does not exist (deleted meanwhile)", h.Group))
	}
	if int32(b.cfg.BrokerPermission)&protocol.PermWrite == 0 {
		return remoting.NewResponse(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden (brokerPermission=%d)", b.cfg.BrokerName, b.cfg.BrokerPermission))
	}
	if sg.RetryQueueNums <= 0 {
		// RocketMQ's way to say "failed messages are not retried".
		b.log.Warn("message handed back dropped: the group has no retry queues (retryQueueNums=0)", "group", h.Group, "offset", h.Offset)
		return remoting.NewResponse(req, protocol.Success, "")
	}
	rw := protocol.PermRead | protocol.PermWrite
	tc, err := b.topics.putIfAbsent(newTopicConfig(retryTopic, sg.RetryQueueNums, rw))
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if tc.Perm&protocol.PermWrite == 0 {
		return remoting.NewResponse(req, protocol.NoPermission, fmt.Sprintf("the topic[%s] sending message is forbidden (perm=%d)", retryTopic, tc.Perm))
	}
	orig, err := b.store.Message(h.Offset)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("look message by offset failed, %d: %v", h.Offset, err))
	}

	m := sendBackCopy(orig)
	limit := b.maxReconsume(h.Group)
	if h.HasMaxReconsumeTimes && h.MaxReconsumeTimes >= 0 {
		limit = int(h.MaxReconsumeTimes)
	}
	toDLQ, level := retryPlan(orig.ReconsumeTimes, limit, h.DelayLevel, len(b.cfg.MessageDelayLevel))
	if toDLQ {
		dlq := DLQTopic(h.Group)
		if _, err := b.topics.putIfAbsent(newTopicConfig(dlq, 1, rw)); err != nil {
			return remoting.NewResponse(req, protocol.SystemError, err.Error())
		}
		m.Topic, m.QueueID = dlq, 0
	} else {
		m.Topic = retryTopic
		m.QueueID = rand.Int32N(max(min(sg.RetryQueueNums, tc.WriteQueueNums), 1))
		b.toScheduleTopic(m, level)
	}
	if err := b.putSendBack(ctx, m); err != nil {
		code, remark := storeErrorCode(err)
		return remoting.NewResponse(req, code, remark)
	}
	if toDLQ {
		b.log.Info("message moved to the dead-letter topic", "group", h.Group, "topic", orig.Topic,
			"offset", h.Offset, "reconsumeTimes", orig.ReconsumeTimes, "maxReconsumeTimes", limit, "delayLevel", h.DelayLevel)
	}
	return remoting.NewResponse(req, protocol.Success, "")
}

// retryPlan decides where a handed-back message goes: to the dead-letter
// topic once it was consumed limit times or when the consumer asks for a
// negative level; otherwise back after a delay level, the consumer's or 3
// + reconsumeTimes, within 1..levels.
func retryPlan(reconsumeTimes int32, limit int, delayLevel int32, levels int) (toDLQ bool, level int) {
	if int(reconsumeTimes) >= limit || delayLevel < 0 {
		return true, 0
	}
	level = int(delayLevel)
	if level == 0 {
		level = 3 + int(reconsumeTimes)
	}
	return false, min(max(level, 1), levels)
}

// sendBackCopy builds the copy of a handed-back message, without its
// destination.
func sendBackCopy(orig *protocol.Message) *protocol.Message {
	props := orig.Properties
	if protocol.PropertyValue(props, protocol.PropertyRetryTopic) == "" {
		props = protocol.SetProperty(props, protocol.PropertyRetryTopic, orig.Topic)
	}
	if protocol.PropertyValue(props, protocol.PropertyOriginMessageID) == "" {
		// As RocketMQ: the id of the record handed back the first time.
		props = protocol.SetProperty(props, protocol.PropertyOriginMessageID, protocol.OffsetMessageID(orig.StoreHost, orig.PhysicalOffset))
	}
	return &protocol.Message{
		Flag:           orig.Flag,
		SysFlag:        orig.SysFlag,
		BornTimestamp:  orig.BornTimestamp,
		BornHost:       orig.BornHost,
		ReconsumeTimes: orig.ReconsumeTimes + 1,
		BodyCRC:        orig.BodyCRC,
		Body:           orig.Body,
		// A DELAY left on the record would delay the copy again.
		Properties: protocol.DeleteProperty(props, protocol.PropertyDelayLevel),
	}
}

// putSendBack stores a send-back copy, trying again while the store is
// busy, for up to sendBackBusyWait. A copy stored but not yet durable
// (SYNC_FLUSH timed out) counts as stored: answering an error would make
// a Java consumer send it again.
func (b *Broker) putSendBack(ctx context.Context, m *protocol.Message) error {
	deadline := time.Now().Add(sendBackBusyWait)
	wait := 10 * time.Millisecond
	for {
		res, err := b.putInternal(ctx, m)
		if err == nil || len(res.Offsets) > 0 {
			return nil
		}
		if !errors.Is(err, store.ErrBusy) || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		case <-b.stop:
			t.Stop()
			return err
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
