package broker

import (
	"context"
	"maps"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/store"
)

// Delayed messages
//
// A message with DELAY=L is stored in SCHEDULE_TOPIC_XXXX queue L-1 (see
// toScheduleTopic), its real topic and queue in properties. Within a level
// every message waits the same time, so each level queue is ordered by due
// time: deliverDelayedLoop keeps a delivery offset per level, and delivers
// from it while the head is due, writing a copy to the real topic and
// queue (without DELAY) and only then advancing the offset. The offsets
// are saved in config/delayOffset.json after each round of deliveries, so
// a crash can at worst deliver a few messages twice, never lose one.

// delayOffsets is the delivery offset of each level (level -> next queue
// offset to deliver).
type delayOffsets struct {
	path string

	mu      sync.Mutex
	offsets map[int]int64
	dirty   bool
}

type delayOffsetsFile struct {
	OffsetTable map[int]int64 `json:"offsetTable"`
}

func openDelayOffsets(dir string) (*delayOffsets, error) {
	d := &delayOffsets{path: filepath.Join(dir, "delayOffset.json"), offsets: map[int]int64{}}
	var f delayOffsetsFile
	if _, err := loadJSON(d.path, &f); err != nil {
		return nil, err
	}
	if f.OffsetTable != nil {
		d.offsets = f.OffsetTable
	}
	return d, nil
}

func (d *delayOffsets) get(level int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.offsets[level]
}

func (d *delayOffsets) set(level int, off int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.offsets[level] != off {
		d.offsets[level] = off
		d.dirty = true
	}
}

func (d *delayOffsets) snapshot() map[int]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.offsets)
}

func (d *delayOffsets) flush() error {
	d.mu.Lock()
	if !d.dirty {
		d.mu.Unlock()
		return nil
	}
	f := delayOffsetsFile{OffsetTable: maps.Clone(d.offsets)}
	d.dirty = false
	d.mu.Unlock()
	return saveJSON(d.path, f)
}

// deliverDelayedLoop delivers delayed messages when due, until the broker
// stops.
func (b *Broker) deliverDelayedLoop() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			if err := b.delay.flush(); err != nil {
				b.log.Error("delay offsets not saved", "err", err)
			}
			return
		case <-timer.C:
		case <-b.delayWake:
		}
		next := b.deliverDue(time.Now())
		if err := b.delay.flush(); err != nil {
			b.log.Error("delay offsets not saved", "err", err)
		}
		// Sleep until the earliest head is due; a new delayed message
		// wakes the loop earlier (it may be due sooner on a short level).
		wait := time.Second
		if !next.IsZero() {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// deliverDue delivers every message due by now and returns when the next
// one is due (zero if none waits).
func (b *Broker) deliverDue(now time.Time) time.Time {
	var next time.Time
	for level := 1; level <= len(b.cfg.MessageDelayLevel); level++ {
		due := b.deliverLevel(level, now)
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// deliverLevel delivers the due messages of one level.
func (b *Broker) deliverLevel(level int, now time.Time) time.Time {
	qid := int32(level - 1)
	delay := b.cfg.MessageDelayLevel[level-1]
	off := max(b.delay.get(level), b.store.MinOffset(TopicSchedule, qid))
	for {
		res, err := b.store.GetMessages(store.GetRequest{Topic: TopicSchedule, QueueID: qid, Offset: off, MaxCount: 32})
		if err != nil || res.Status != store.Found {
			if res.Status == store.OffsetTooSmall {
				off = res.NextOffset
				continue
			}
			b.delay.set(level, off)
			return time.Time{}
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			b.log.Error("delayed messages unreadable, skipping them", "level", level, "queueOffset", off, "err", err)
			b.delay.set(level, res.NextOffset)
			off = res.NextOffset
			continue
		}
		for _, m := range msgs {
			due := time.UnixMilli(m.StoreTimestamp).Add(delay)
			if due.After(now) {
				b.delay.set(level, m.QueueOffset)
				return due
			}
			if err := b.deliverDelayed(m); err != nil {
				// Try again on the next round rather than lose it.
				b.log.Error("delayed message not delivered, will retry", "level", level, "queueOffset", m.QueueOffset, "err", err)
				b.delay.set(level, m.QueueOffset)
				return now.Add(time.Second)
			}
			off = m.QueueOffset + 1
			b.delay.set(level, off)
		}
	}
}

// deliverDelayed writes a due message to its real topic and queue.
func (b *Broker) deliverDelayed(m *protocol.Message) error {
	topic := m.Property(protocol.PropertyRealTopic)
	qid, err := strconv.Atoi(m.Property(protocol.PropertyRealQueueID))
	if topic == "" || err != nil {
		b.log.Warn("delayed message without its real topic, dropped", "offset", m.PhysicalOffset)
		return nil
	}
	if _, ok := b.topics.get(topic); !ok {
		b.log.Warn("delayed message's topic no longer exists, dropped", "topic", topic, "offset", m.PhysicalOffset)
		return nil
	}
	out := *m
	out.Topic, out.QueueID = topic, int32(qid)
	out.Properties = protocol.DeleteProperty(m.Properties, protocol.PropertyDelayLevel)
	out.BodyCRC = 0
	_, err = b.putInternal(context.Background(), &out)
	return err
}
