package client

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// fetch long-polls one queue into its cache until ctx ends, pausing while
// the cache is over the thresholds. With piggyback, each pull also stores
// the queue's consumed offset (the push consumer's periodic commit).
func (m *member) fetch(ctx context.Context, mc *msgCache, sub *subscription, piggyback bool) {
	for ctx.Err() == nil {
		n := mc.room(ctx, &m.cfg)
		if n == 0 {
			return
		}
		mc.mu.Lock()
		from := mc.next
		mc.mu.Unlock()
		h := protocol.PullMessageRequestHeader{
			ConsumerGroup: m.cfg.group, Topic: mc.q.Topic, QueueID: mc.q.QueueID, QueueOffset: from,
			MaxMsgNums: int32(n), SysFlag: protocol.PullSuspend | protocol.PullSubscription,
			SuspendTimeoutMillis: 15000, Subscription: sub.expr, ExpressionType: protocol.ExpressionTag,
		}
		if piggyback && !m.cfg.broadcasting {
			if off := mc.consumed(); off > 0 {
				h.SysFlag |= protocol.PullCommitOffset
				h.CommitOffset = off
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := m.rc.Invoke(pctx, mc.q.addr, remoting.NewRequest(protocol.PullMessage, h.Ext(), nil))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.cfg.logger.Warn("pull failed", "topic", mc.q.Topic, "queueId", mc.q.QueueID, "err", err)
				sleep(ctx, 3*time.Second)
			}
			continue
		}
		next, nerr := strconv.ParseInt(resp.Ext("nextBeginOffset"), 10, 64)
		if nerr != nil {
			next = from
		}
		switch resp.Code {
		case protocol.Success:
			msgs, err := protocol.DecodeMessages(resp.Body)
			if err != nil {
				m.cfg.logger.Error("pulled messages unreadable, skipped", "topic", mc.q.Topic, "queueId", mc.q.QueueID, "err", err)
			}
			mc.add(wanted(mc.q, sub, msgs), next)
		case protocol.PullNotFound, protocol.PullRetryImmediately, protocol.PullOffsetMoved:
			mc.add(nil, next)
		default:
			m.cfg.logger.Warn("pull refused", "topic", mc.q.Topic, "code", resp.Code, "remark", resp.Remark)
			sleep(ctx, 3*time.Second)
		}
	}
}

// wanted returns the messages that pass the subscription's tag filter (the
// broker filters by tag hash only), with the original topic of retried
// messages restored.
func wanted(q publishQueue, sub *subscription, msgs []*protocol.Message) []*MessageExt {
	out := make([]*MessageExt, 0, len(msgs))
	for _, m := range msgs {
		if len(sub.tags) > 0 && !slices.Contains(sub.tags, m.Property(protocol.PropertyTags)) {
			continue
		}
		if t := m.Property(protocol.PropertyRetryTopic); t != "" && strings.HasPrefix(m.Topic, "%RETRY%") {
			m.Topic = t
		}
		id := m.Property(protocol.PropertyUniqKey)
		if id == "" {
			id = protocol.OffsetMessageID(m.StoreHost, m.PhysicalOffset)
		}
		out = append(out, &MessageExt{Message: m, MsgID: id, Broker: q.Broker})
	}
	return out
}
