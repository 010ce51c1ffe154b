package client

import (
	"context"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// work consumes one queue until ctx ends: a fetcher fills the queue's
// cache while this goroutine hands its messages to the handler. At the
// end the in-flight batch finishes and the consumed offset is committed.
func (c *Consumer) work(ctx context.Context, w *queueWorker) {
	if c.cfg.orderly && !c.cfg.broadcasting {
		defer c.unlock(w.q.addr, []Queue{w.q.Queue}) // locked by apply
	}
	off, err := c.startOffset(ctx, w.q)
	if err != nil {
		return
	}
	w.cache.reset(off)
	sub := c.subs[w.q.Topic]
	fetcher := make(chan struct{})
	go func() { defer close(fetcher); c.fetch(ctx, w.cache, sub, true) }()
	for ctx.Err() == nil {
		batch := w.cache.peek(c.cfg.pullBatch)
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
			case <-w.cache.ready:
			}
			continue
		}
		n := c.consume(ctx, w, sub, batch)
		w.cache.remove(n)
	}
	<-fetcher
	if err := c.commit(context.Background(), w.q, w.cache.consumed()); err != nil {
		c.cfg.logger.Warn("offset commit failed", "err", err)
	}
}

// consume hands a batch to the handler and returns how many of its
// messages are done with (consumed, or sent back for a later retry).
func (c *Consumer) consume(ctx context.Context, w *queueWorker, sub *subscription, batch []*MessageExt) int {
	handler := sub.handler
	if handler == nil {
		// The group's retry topic holds messages of all its topics: hand
		// over a run of one topic, to that topic's handler.
		end := 1
		for end < len(batch) && batch[end].Topic == batch[0].Topic {
			end++
		}
		batch = batch[:end]
		if s := c.subs[batch[0].Topic]; s != nil {
			handler = s.handler
		}
	}
	if handler == nil {
		return len(batch)
	}
	if !c.cfg.orderly {
		if err := handler(c.hctx, batch); err != nil {
			for i, m := range batch {
				if !c.sendBack(ctx, w, m) {
					return i
				}
			}
		}
		return len(batch)
	}
	// Orderly: one message at a time, retried in place a bounded number
	// of times; then it goes to the retry topic like any failure, so one
	// poison message cannot hold its queue forever. A message still failing
	// when the consumer stops stays for the queue's next owner.
	for i, m := range batch {
		err := handler(c.hctx, []*MessageExt{m})
		for r := 0; err != nil && r < c.cfg.localRetries && ctx.Err() == nil; r++ {
			sleep(ctx, orderlyRetryPause)
			err = handler(c.hctx, []*MessageExt{m})
		}
		if err != nil && ctx.Err() != nil {
			return i
		}
		if err != nil && !c.sendBack(ctx, w, m) {
			return i
		}
	}
	return len(batch)
}

// orderlyRetryPause is the wait between local retries of an orderly batch.
const orderlyRetryPause = 200 * time.Millisecond

// sendBack hands a failed message to the broker for a later retry. A
// refusal is tried again every second, holding the queue, until it
// succeeds or the consumer stops; then it reports false and the message
// stays unconsumed, for the queue's next owner.
func (c *Consumer) sendBack(ctx context.Context, w *queueWorker, m *MessageExt) bool {
	h := protocol.ConsumerSendMsgBackRequestHeader{
		Offset: m.PhysicalOffset, Group: c.cfg.group, OriginMsgID: m.MsgID, OriginTopic: m.Topic,
		MaxReconsumeTimes: int32(c.cfg.maxReconsume), HasMaxReconsumeTimes: true,
	}
	for {
		_, err := c.call(ctx, w.q.addr, protocol.ConsumerSendMsgBack, h.Ext(), nil)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.cfg.logger.Warn("send back failed, will retry", "topic", m.Topic, "msgId", m.MsgID, "err", err)
		sleep(ctx, time.Second)
	}
}

// lock asks a broker for exclusive use of queues and returns those granted.
func (c *Consumer) lock(addr string, qs []Queue) []Queue {
	body := protocol.LockBatchRequestBody{ConsumerGroup: c.cfg.group, ClientID: c.id, MQSet: messageQueues(qs)}
	b, _ := body.Marshal()
	resp, err := c.call(c.ctx, addr, protocol.LockBatchMQ, nil, b)
	if err != nil {
		return nil
	}
	res, err := protocol.UnmarshalLockBatchResponseBody(resp.Body)
	if err != nil {
		return nil
	}
	var out []Queue
	for _, mq := range res.LockOKMQSet {
		out = append(out, Queue{Topic: mq.Topic, Broker: mq.BrokerName, QueueID: mq.QueueID})
	}
	return out
}

func (c *Consumer) unlock(addr string, qs []Queue) {
	body := protocol.UnlockBatchRequestBody{ConsumerGroup: c.cfg.group, ClientID: c.id, MQSet: messageQueues(qs)}
	b, _ := body.Marshal()
	if _, err := c.call(context.Background(), addr, protocol.UnlockBatchMQ, nil, b); err != nil {
		c.cfg.logger.Warn("unlock failed; the broker lets the lock lapse", "addr", addr, "err", err)
	}
}

func messageQueues(qs []Queue) []protocol.MessageQueue {
	out := make([]protocol.MessageQueue, len(qs))
	for i, q := range qs {
		out[i] = protocol.MessageQueue{Topic: q.Topic, BrokerName: q.Broker, QueueID: q.QueueID}
	}
	return out
}

// renewLocks renews the locks of the queues being consumed (the broker
// lets a lock lapse 60 s after its last renewal).
func (c *Consumer) renewLocks() {
	if !c.cfg.orderly || c.cfg.broadcasting {
		return
	}
	c.mu.Lock()
	byAddr := map[string][]Queue{}
	for q, w := range c.running {
		byAddr[w.q.addr] = append(byAddr[w.q.addr], q)
	}
	c.mu.Unlock()
	for addr, qs := range byAddr {
		c.lock(addr, qs)
	}
}
