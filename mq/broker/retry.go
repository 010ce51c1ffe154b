package broker

import (
	"context"
	"fmt"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// routeRetry registers CONSUMER_SEND_MSG_BACK.
func (b *Broker) routeRetry(mux *remoting.Mux) {
	mux.HandleFunc(protocol.ConsumerSendMsgBack, b.handleSendBack)
}

// handleSendBack serves CONSUMER_SEND_MSG_BACK (36): a consumer failed a
// message, so the broker stores a copy in the group's retry topic, due
// after a delay that grows with the reconsume count (level 3 + count: 10s,
// 30s, 1m, ...), or, once the retries are used up, in the group's
// dead-letter topic. The official Go client counts any answer as success,
// so this must not fail lightly.
func (b *Broker) handleSendBack(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeConsumerSendMsgBackRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if err := b.groups.ensure(h.Group, *b.cfg.AutoCreateSubscriptionGroup); err != nil {
		return remoting.NewResponse(req, protocol.SubscriptionGroupNotExist, err.Error())
	}
	if int32(b.cfg.BrokerPermission)&protocol.PermWrite == 0 {
		return remoting.NewResponse(req, protocol.NoPermission, fmt.Sprintf("the broker[%s] sending message is forbidden", b.cfg.BrokerName))
	}
	orig, err := b.store.Message(h.Offset)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("look up message at offset %d to retry: %v", h.Offset, err))
	}
	m := *orig
	m.BodyCRC = 0
	props := m.Properties
	if protocol.PropertyValue(props, protocol.PropertyRetryTopic) == "" {
		props = protocol.SetProperty(props, protocol.PropertyRetryTopic, orig.Topic)
	}
	if protocol.PropertyValue(props, protocol.PropertyOriginMessageID) == "" {
		id := h.OriginMsgID
		if id == "" {
			id = protocol.OffsetMessageID(b.addrPort(), orig.PhysicalOffset)
		}
		props = protocol.SetProperty(props, protocol.PropertyOriginMessageID, id)
	}
	props = protocol.DeleteProperty(props, protocol.PropertyDelayLevel)
	m.Properties = props

	limit := int32(b.maxReconsume(h.Group))
	if h.HasMaxReconsumeTimes && h.MaxReconsumeTimes >= 0 {
		limit = h.MaxReconsumeTimes
	}
	if orig.ReconsumeTimes >= limit || h.DelayLevel < 0 {
		dlq := DLQTopic(h.Group)
		if _, err := b.topics.putIfAbsent(newTopicConfig(dlq, 1, protocol.PermRead|protocol.PermWrite)); err != nil {
			return remoting.NewResponse(req, protocol.SystemError, err.Error())
		}
		m.Topic, m.QueueID = dlq, 0
		m.ReconsumeTimes = orig.ReconsumeTimes + 1
		b.log.Info("message moved to the dead-letter topic", "group", h.Group, "topic", orig.Topic, "reconsumeTimes", orig.ReconsumeTimes)
	} else {
		retry := RetryTopic(h.Group)
		if _, err := b.topics.putIfAbsent(newTopicConfig(retry, 1, protocol.PermRead|protocol.PermWrite)); err != nil {
			return remoting.NewResponse(req, protocol.SystemError, err.Error())
		}
		level := int(h.DelayLevel)
		if level == 0 {
			level = 3 + int(orig.ReconsumeTimes)
		}
		level = min(level, len(b.cfg.MessageDelayLevel))
		m.Topic, m.QueueID = retry, 0
		m.ReconsumeTimes = orig.ReconsumeTimes + 1
		b.toScheduleTopic(&m, level)
	}
	if _, err := b.putInternal(ctx, &m); err != nil {
		code, remark := storeErrorCode(err)
		return remoting.NewResponse(req, code, remark)
	}
	return remoting.NewResponse(req, protocol.Success, "")
}
