package client

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// readQueues returns a topic's readable queues, sorted as every member of
// a group sorts them (topic, broker, queue).
func (r *routes) readQueues(ctx context.Context, topic string) ([]publishQueue, error) {
	rd, err := r.fetch(ctx, topic)
	if err != nil {
		return nil, err
	}
	masters := map[string]string{}
	for _, bd := range rd.BrokerDatas {
		masters[bd.BrokerName] = bd.MasterAddr()
	}
	var qs []publishQueue
	for _, qd := range rd.QueueDatas {
		if qd.Perm&protocol.PermRead == 0 || masters[qd.BrokerName] == "" {
			continue
		}
		for i := range qd.ReadQueueNums {
			qs = append(qs, publishQueue{Queue: Queue{Topic: topic, Broker: qd.BrokerName, QueueID: i}, addr: masters[qd.BrokerName]})
		}
	}
	slices.SortFunc(qs, func(a, b publishQueue) int {
		if c := strings.Compare(a.Broker, b.Broker); c != 0 {
			return c
		}
		return int(a.QueueID - b.QueueID)
	})
	return qs, nil
}

// work consumes one queue until ctx ends, then commits its offset.
func (c *Consumer) work(ctx context.Context, w *queueWorker) {
	if !c.startOffset(ctx, w) {
		return
	}
	defer c.commit(w)
	sub := c.subs[w.q.Topic]
	for ctx.Err() == nil {
		h := protocol.PullMessageRequestHeader{
			ConsumerGroup: c.cfg.group, Topic: w.q.Topic, QueueID: w.q.QueueID, QueueOffset: w.offset,
			MaxMsgNums: int32(c.cfg.pullBatch), SysFlag: protocol.PullSuspend | protocol.PullSubscription,
			SuspendTimeoutMillis: 15000, Subscription: sub.expr, ExpressionType: protocol.ExpressionTag,
		}
		if !c.cfg.broadcasting && w.offset > 0 {
			h.SysFlag |= protocol.PullCommitOffset
			h.CommitOffset = w.offset
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := c.rc.Invoke(pctx, w.q.addr, remoting.NewRequest(protocol.PullMessage, h.Ext(), nil))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.logger.Warn("pull failed", "topic", w.q.Topic, "queueId", w.q.QueueID, "err", err)
				sleep(ctx, 3*time.Second)
			}
			continue
		}
		next, err := strconv.ParseInt(resp.Ext("nextBeginOffset"), 10, 64)
		switch {
		case resp.Code == protocol.Success:
			msgs, derr := protocol.DecodeMessages(resp.Body)
			if derr != nil {
				c.cfg.logger.Error("pulled messages unreadable, skipped", "topic", w.q.Topic, "queueId", w.q.QueueID, "err", derr)
			} else {
				c.consume(ctx, w, sub, msgs)
			}
			if err == nil {
				w.offset = next
			}
		case resp.Code == protocol.PullNotFound, resp.Code == protocol.PullRetryImmediately, resp.Code == protocol.PullOffsetMoved:
			if err == nil {
				w.offset = next
			}
		default:
			c.cfg.logger.Warn("pull refused", "topic", w.q.Topic, "code", resp.Code, "remark", resp.Remark)
			sleep(ctx, 3*time.Second)
		}
	}
}

// consume hands the messages that pass the tag filter to the handler; a
// failed batch is sent back to the broker for a later retry.
func (c *Consumer) consume(ctx context.Context, w *queueWorker, sub *subscription, msgs []*protocol.Message) {
	var batch []*MessageExt
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
		batch = append(batch, &MessageExt{Message: m, MsgID: id, Broker: w.q.Broker})
	}
	if len(batch) == 0 {
		return
	}
	handler := sub.handler
	if handler == nil { // the retry topic: the handler of the original topic
		if s := c.subs[batch[0].Topic]; s != nil {
			handler = s.handler
		}
	}
	if handler == nil {
		return
	}
	if !c.cfg.orderly {
		if err := handler(ctx, batch); err != nil {
			for _, m := range batch {
				c.sendBack(w, m)
			}
		}
		return
	}
	// Orderly: one message at a time, retried in place a bounded number
	// of times; then it goes to the retry topic like any failure, so one
	// poison message cannot hold its queue forever.
	for _, m := range batch {
		err := handler(ctx, []*MessageExt{m})
		for i := 0; err != nil && i < c.cfg.localRetries && ctx.Err() == nil; i++ {
			sleep(ctx, orderlyRetryPause)
			err = handler(ctx, []*MessageExt{m})
		}
		if err != nil {
			c.sendBack(w, m)
		}
	}
}

// orderlyRetryPause is the wait between local retries of an orderly batch.
const orderlyRetryPause = 200 * time.Millisecond

func (c *Consumer) sendBack(w *queueWorker, m *MessageExt) {
	h := protocol.ConsumerSendMsgBackRequestHeader{
		Offset: m.PhysicalOffset, Group: c.cfg.group, OriginMsgID: m.MsgID, OriginTopic: m.Topic,
		MaxReconsumeTimes: int32(c.cfg.maxReconsume), HasMaxReconsumeTimes: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	resp, err := c.rc.Invoke(ctx, w.q.addr, remoting.NewRequest(protocol.ConsumerSendMsgBack, h.Ext(), nil))
	if err == nil && resp.Code != protocol.Success {
		err = &BrokerError{Addr: w.q.addr, Code: resp.Code, Remark: resp.Remark}
	}
	if err != nil {
		c.cfg.logger.Error("send back failed; the message will not be retried", "topic", m.Topic, "msgId", m.MsgID, "err", err)
	}
}

// startOffset decides where a queue starts: the group's committed offset,
// else the newest (or oldest) message.
func (c *Consumer) startOffset(ctx context.Context, w *queueWorker) bool {
	h := protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: c.cfg.group, Topic: w.q.Topic, QueueID: w.q.QueueID}
	for ctx.Err() == nil {
		if c.cfg.broadcasting {
			break
		}
		qctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
		resp, err := c.rc.Invoke(qctx, w.q.addr, remoting.NewRequest(protocol.QueryConsumerOffset, h.Ext(), nil))
		cancel()
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		if resp.Code == protocol.Success {
			w.offset, _ = strconv.ParseInt(resp.Ext("offset"), 10, 64)
			return true
		}
		break
	}
	if c.cfg.fromFirst || strings.HasPrefix(w.q.Topic, "%RETRY%") {
		w.offset = 0
		return ctx.Err() == nil
	}
	qctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	resp, err := c.rc.Invoke(qctx, w.q.addr, remoting.NewRequest(protocol.GetMaxOffset, protocol.TopicQueueRequestHeader{Topic: w.q.Topic, QueueID: w.q.QueueID}.Ext(), nil))
	if err != nil {
		return false
	}
	w.offset, err = strconv.ParseInt(resp.Ext("offset"), 10, 64)
	return err == nil
}

// commit stores a queue's offset on the broker (clustering only).
func (c *Consumer) commit(w *queueWorker) {
	if c.cfg.broadcasting {
		return
	}
	h := protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: c.cfg.group, Topic: w.q.Topic, QueueID: w.q.QueueID, CommitOffset: w.offset}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	if _, err := c.rc.Invoke(ctx, w.q.addr, remoting.NewRequest(protocol.UpdateConsumerOffset, h.Ext(), nil)); err != nil {
		c.cfg.logger.Warn("offset commit failed", "topic", w.q.Topic, "queueId", w.q.QueueID, "err", err)
	}
}

// Close stops consuming: in-flight handlers finish, offsets are committed,
// connections close. No goroutine is left behind.
func (c *Consumer) Close() error {
	if !c.started {
		return c.rc.Close()
	}
	c.cancel()
	c.wg.Wait()
	if c.cfg.orderly {
		c.mu.Lock()
		for q, w := range c.running {
			c.unlock(w.q.addr, []Queue{q})
		}
		c.mu.Unlock()
	}
	return c.rc.Close()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
