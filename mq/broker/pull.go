package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// maxHold caps how long a pull is held, below the Go client's 30 s pull
// timeout whatever suspendTimeoutMillis says.
const maxHold = 25 * time.Second

// handlePull serves PULL_MESSAGE (11). When the queue has nothing new and
// the client allows it (sysFlag bit 1), the request is held until a
// message arrives in that queue or the suspend timeout passes (long
// polling), then answered on the same connection.
func (b *Broker) handlePull(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodePullMessageRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	sub, code, remark := b.checkPull(&h)
	if code != protocol.Success {
		return remoting.NewResponse(req, code, remark)
	}
	var tags []int64
	if !sub.MatchesAll() {
		tags = sub.CodeSet
	}
	if h.SysFlag&protocol.PullCommitOffset != 0 {
		b.offsets.commit(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	}
	get := store.GetRequest{Topic: h.Topic, QueueID: h.QueueID, Offset: h.QueueOffset, MaxCount: int(h.MaxMsgNums), Tags: tags}
	res, err := b.store.GetMessages(get)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	if pullCode(res, get.Offset) == protocol.PullNotFound && h.SysFlag&protocol.PullSuspend != 0 {
		hold := time.Duration(h.SuspendTimeoutMillis) * time.Millisecond
		if !*b.cfg.LongPollingEnable {
			hold = b.cfg.ShortPollingTime
		}
		res, err = b.hold(ctx, get, res, min(hold, maxHold))
		if err != nil {
			return nil // the connection is gone: nobody to answer
		}
	}
	b.stats.getMessages.Add(int64(res.Count))
	return pullResponse(req, res, get.Offset)
}

// checkPull applies the checks before a pull and returns the subscription
// that filters it.
func (b *Broker) checkPull(h *protocol.PullMessageRequestHeader) (protocol.SubscriptionData, int16, string) {
	var sub protocol.SubscriptionData
	if int32(b.cfg.BrokerPermission)&protocol.PermRead == 0 {
		return sub, protocol.NoPermission, fmt.Sprintf("the broker[%s] pulling message is forbidden (brokerPermission=%d)", b.cfg.BrokerName, b.cfg.BrokerPermission)
	}
	if err := b.groups.ensure(h.ConsumerGroup, *b.cfg.AutoCreateSubscriptionGroup); err != nil {
		return sub, protocol.SubscriptionGroupNotExist, err.Error()
	}
	if sg, _ := b.groups.get(h.ConsumerGroup); !sg.ConsumeEnable {
		return sub, protocol.NoPermission, fmt.Sprintf("subscription group %s has consumption disabled (consumeEnable=false)", h.ConsumerGroup)
	}
	tc, ok := b.topics.get(h.Topic)
	if !ok {
		return sub, protocol.TopicNotExist, fmt.Sprintf("topic[%s] not exist, apply first please!", h.Topic)
	}
	if tc.Perm&protocol.PermRead == 0 {
		return sub, protocol.NoPermission, fmt.Sprintf("the topic[%s] pulling message is forbidden (perm=%d)", h.Topic, tc.Perm)
	}
	if h.QueueID < 0 || h.QueueID >= tc.ReadQueueNums {
		return sub, protocol.SystemError, fmt.Sprintf("queueId[%d] is illegal: topic %s has %d read queues on broker %s", h.QueueID, h.Topic, tc.ReadQueueNums, b.cfg.BrokerName)
	}
	if h.SysFlag&protocol.PullSubscription != 0 {
		sub = protocol.SubscriptionData{Topic: h.Topic, SubString: h.Subscription, ExpressionType: h.ExpressionType}
		sub.Normalize()
	} else {
		var found bool
		if sub, found = b.clients.subscription(h.ConsumerGroup, h.Topic); !found {
			return sub, protocol.SubscriptionNotExist, fmt.Sprintf("the consumer's subscription of %s in group %s does not exist (no heartbeat yet?)", h.Topic, h.ConsumerGroup)
		}
		if sub.SubVersion < h.SubVersion {
			return sub, protocol.SubscriptionNotLatest, "the consumer's subscription is not the latest"
		}
	}
	if sub.ExpressionType != "" && sub.ExpressionType != protocol.ExpressionTag {
		return sub, protocol.SubscriptionParseFailed, fmt.Sprintf("expression type %s is not supported by this broker; use TAG", sub.ExpressionType)
	}
	return sub, protocol.Success, ""
}

// hold waits for a message in the queue of req, re-reading whenever one
// arrives, until one arrives or the hold time passes. A read whose
// messages were all filtered out is answered at once (retry immediately,
// with the next offset).
func (b *Broker) hold(ctx context.Context, req store.GetRequest, res store.GetResult, hold time.Duration) (store.GetResult, error) {
	w := b.polls.add(req.Topic, req.QueueID)
	defer b.polls.remove(req.Topic, req.QueueID, w)
	timer := time.NewTimer(hold)
	defer timer.Stop()
	for {
		// Read again after registering: a message that arrived in between
		// would otherwise wait for the timeout.
		r, err := b.store.GetMessages(req)
		if err != nil {
			return res, nil
		}
		res = r
		switch pullCode(res, req.Offset) {
		case protocol.PullNotFound:
		case protocol.PullRetryImmediately:
			// Only messages the filter drops arrived: answer with the
			// offset moved past them, as Java does, so the consumer's
			// offset (and its committed progress) keeps up instead of
			// trailing by a whole hold time.
			return res, nil
		default:
			return res, nil
		}
		select {
		case <-w.wake:
		case <-timer.C:
			return res, nil
		case <-b.stop:
			return res, nil
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
}

// pullCode maps a store read to PULL_MESSAGE's response code, as Java's
// PullMessageProcessor does.
func pullCode(res store.GetResult, offset int64) int16 {
	switch res.Status {
	case store.Found:
		return protocol.Success
	case store.MessageWasRemoving, store.NoMatchedMessage:
		return protocol.PullRetryImmediately
	case store.NoMatchedLogicQueue, store.NoMessageInQueue:
		if offset != 0 {
			return protocol.PullOffsetMoved
		}
		return protocol.PullNotFound
	case store.OffsetFoundNull, store.OffsetOverflowOne:
		return protocol.PullNotFound
	default: // OffsetOverflowBadly, OffsetTooSmall
		return protocol.PullOffsetMoved
	}
}

func pullResponse(req *remoting.Command, res store.GetResult, offset int64) *remoting.Command {
	resp := remoting.NewResponse(req, pullCode(res, offset), res.Status.String())
	resp.ExtFields = protocol.PullMessageResponseHeader{
		NextBeginOffset: res.NextOffset,
		MinOffset:       res.MinOffset,
		MaxOffset:       res.MaxOffset,
	}.Ext()
	if res.Status == store.Found {
		resp.Body = res.Body
	}
	return resp
}
