package client

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Flow control defaults per queue, as in Apache RocketMQ's clients.
const (
	defaultCacheMsgs  = 1000
	defaultCacheBytes = 100 << 20
)

// WithPullThresholds caps, per queue, the messages pulled but not yet
// consumed (push consumer) or polled (pull consumer): at most msgs
// messages (a pull asks for no more than fit), and pulling pauses once
// their bodies reach bytes (the last pull may go over by its own size).
// The queue is pulled again when the handler or Poll has caught up.
// Default 1000 messages and 100 MiB, as in Apache RocketMQ's clients.
func WithPullThresholds(msgs, bytes int) Option {
	return func(c *config) { c.cacheMsgs, c.cacheBytes = msgs, int64(bytes) }
}

// WithPullBatchSize sets how many messages one pull asks for, 1 to 1024
// (the broker also stops a pull at 256 KiB), which is also the most a push
// handler or a Poll gets at once. Default 32, as the Java client's
// pullBatchSize; larger pulls drain a backlog in fewer round trips.
func WithPullBatchSize(n int) Option { return func(c *config) { c.pullBatch = n } }

// maxPullBatch is the most messages a pull may ask for (Java's limit).
const maxPullBatch = 1024

// msgCache holds the messages pulled from one queue, in offset order. The
// fetcher appends; one consumer (a push worker or Poll) removes from the
// front.
type msgCache struct {
	q publishQueue
	// ready is signalled (never blocking) when messages arrive; a pull
	// consumer shares one among its queues.
	ready chan struct{}
	space chan struct{} // signalled when messages leave

	mu    sync.Mutex
	msgs  []*MessageExt
	bytes int64
	next  int64 // next offset to pull
}

func newMsgCache(q publishQueue, ready chan struct{}) *msgCache {
	return &msgCache{q: q, ready: ready, space: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// room returns how many messages may be pulled now, waiting while the
// cache is over a threshold; 0 when ctx ends.
func (mc *msgCache) room(ctx context.Context, cfg *config) int {
	for {
		mc.mu.Lock()
		n := min(cfg.pullBatch, cfg.cacheMsgs-len(mc.msgs))
		over := mc.bytes >= cfg.cacheBytes
		mc.mu.Unlock()
		if n > 0 && !over {
			return n
		}
		select {
		case <-ctx.Done():
			return 0
		case <-mc.space:
		}
	}
}

// add appends pulled messages and moves the pull position to next.
func (mc *msgCache) add(msgs []*MessageExt, next int64) {
	mc.mu.Lock()
	mc.msgs = append(mc.msgs, msgs...)
	for _, m := range msgs {
		mc.bytes += int64(len(m.Body))
	}
	mc.next = next
	mc.mu.Unlock()
	if len(msgs) > 0 {
		signal(mc.ready)
	}
}

// peek returns up to n messages from the front without removing them.
func (mc *msgCache) peek(n int) []*MessageExt {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.msgs[:min(n, len(mc.msgs)):min(n, len(mc.msgs))]
}

// remove drops the first n messages and returns the queue's consumed
// offset: the first message still cached, or the pull position.
func (mc *msgCache) remove(n int) int64 {
	mc.mu.Lock()
	for _, m := range mc.msgs[:n] {
		mc.bytes -= int64(len(m.Body))
	}
	mc.msgs = mc.msgs[n:]
	mc.mu.Unlock()
	signal(mc.space)
	return mc.consumed()
}

// consumed returns the offset up to which every message was consumed.
func (mc *msgCache) consumed() int64 {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.msgs) > 0 {
		return mc.msgs[0].QueueOffset
	}
	return mc.next
}

// reset empties the cache and sets the pull position.
func (mc *msgCache) reset(next int64) {
	mc.mu.Lock()
	mc.msgs, mc.bytes, mc.next = nil, 0, next
	mc.mu.Unlock()
	signal(mc.space)
}

// CacheStats is what a queue holds pulled but not yet consumed or polled.
type CacheStats struct {
	Messages int
	Bytes    int64
}

func cacheStats[T any](queues map[Queue]T, cache func(T) *msgCache) map[Queue]CacheStats {
	out := make(map[Queue]CacheStats, len(queues))
	for q, v := range queues {
		mc := cache(v)
		mc.mu.Lock()
		out[q] = CacheStats{Messages: len(mc.msgs), Bytes: mc.bytes}
		mc.mu.Unlock()
	}
	return out
}

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
			msgs, err := decodeMessages(resp.Body)
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
