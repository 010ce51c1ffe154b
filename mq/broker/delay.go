package broker

import (
	"context"
	"errors"
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
// A message with DELAY=L is stored in SCHEDULE_TOPIC_XXXX, queue L-1, its
// real topic and queue in REAL_TOPIC and REAL_QID (see toScheduleTopic).
// Every message of a level waits the same time, so each level queue is in
// due-time order: a message is due at its store time plus the level's
// delay (the tag code of its consume-queue entry). deliverDelayedLoop keeps
// a delivery offset per level and, from it, delivers every message that is
// due: it writes a copy to the real topic and queue (without DELAY, with a
// new store time and offsets) and only then moves the offset past it. It
// sleeps until the earliest head of a level is due, and wakes early when a
// message is added to the schedule topic (onAppend), so a message is
// delivered within a few milliseconds of its due time.
//
// # Offsets on disk
//
// The delivery offsets live in config/delayOffset.json, replaced
// atomically. A saved offset must never pass a copy that a power loss
// could still take away, or that message would be lost: the original is
// behind the offset and the copy is gone. So each advance is recorded with
// the commit-log end of the copies it needs, and the file only gets the
// advances whose copies are below the store's flushed offset (at once with
// SYNC_FLUSH; within flushIntervalCommitLog with ASYNC_FLUSH). A crash can
// therefore deliver the last few hundred milliseconds of messages twice
// (at least once), never lose one. At shutdown the file gets the offsets
// in memory: the store syncs the commit log right after.

// delaySaveInterval bounds how often delayOffset.json is rewritten while
// messages are being delivered.
const delaySaveInterval = 100 * time.Millisecond

// delayIdleWake is how often the delivery loop looks at the level queues
// when nothing is due and nothing woke it: a safety net, since appends to
// the schedule topic wake it anyway.
const delayIdleWake = time.Second

// delayRoundBudget is how many messages a level delivers in one round of
// the loop before the other levels get their turn (and the offsets a
// chance to be saved): a backlog on one level, after a long stop, must not
// hold up the others.
const delayRoundBudget = 256

// delayRetryWait is how long a level waits after a copy failed to be
// stored (disk full, store busy) before it tries that message again.
const delayRetryWait = time.Second

// delayOffsets is the delivery progress of each delay level: the queue
// offset in SCHEDULE_TOPIC_XXXX (queue level-1) of the next message to
// deliver. Only the delivery loop moves offsets; admin requests read them.
type delayOffsets struct {
	path string

	mu sync.Mutex // guards the fields below
	// next is the progress in memory.
	next map[int]int64
	// pending holds, per level and in order, the advances not yet known
	// durable.
	pending map[int][]delayMark
	// saved is the durable progress, what delayOffset.json holds once
	// dirty is false.
	saved map[int]int64
	dirty bool
}

// delayMark is one advance of a level: the level's next offset became
// offset, which needs the commit log durable up to end (0: no copy).
type delayMark struct {
	offset int64
	end    int64
}

// delayOffsetsFile is delayOffset.json, named as in RocketMQ.
type delayOffsetsFile struct {
	OffsetTable map[int]int64 `json:"offsetTable"`
}

func openDelayOffsets(dir string) (*delayOffsets, error) {
	d := &delayOffsets{
		path:    filepath.Join(dir, "delayOffset.json"),
		next:    map[int]int64{},
		pending: map[int][]delayMark{},
		saved:   map[int]int64{},
	}
	var f delayOffsetsFile
	if _, err := loadJSON(d.path, &f); err != nil {
		return nil, err
	}
	for level, off := range f.OffsetTable {
		d.next[level], d.saved[level] = off, off
	}
	return d, nil
}

// get returns the next offset to deliver of a level.
func (d *delayOffsets) get(level int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next[level]
}

// advance moves a level's next offset (backwards too, when the queue lost
// its tail) and remembers that the move needs the commit log durable up to
// end.
func (d *delayOffsets) advance(level int, offset, end int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next[level] == offset && end == 0 {
		return
	}
	d.next[level] = offset
	marks := d.pending[level]
	if n := len(marks); n > 0 && end <= marks[n-1].end {
		// Needs nothing the previous mark does not: merge.
		marks[n-1].offset = offset
		return
	}
	d.pending[level] = append(marks, delayMark{offset: offset, end: end})
}

// snapshot returns the progress in memory.
func (d *delayOffsets) snapshot() map[int]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.next)
}

// settle moves into saved the advances whose copies are durable, that is
// below flushed, or all of them if all is set. It reports whether some
// remain pending.
func (d *delayOffsets) settle(flushed int64, all bool) (pending bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for level, marks := range d.pending {
		i := 0
		for i < len(marks) && (all || marks[i].end <= flushed) {
			i++
		}
		if i > 0 {
			d.saved[level] = marks[i-1].offset
			d.dirty = true
		}
		if i == len(marks) {
			delete(d.pending, level)
		} else {
			d.pending[level] = marks[i:]
			pending = true
		}
	}
	return pending
}

// needsSave reports whether the durable progress changed since the last
// save.
func (d *delayOffsets) needsSave() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dirty
}

// save writes the durable progress if it changed since the last save. One
// caller at a time: the saving goroutine, then, after it ended, the
// delivery loop's last save.
func (d *delayOffsets) save() error {
	d.mu.Lock()
	if !d.dirty {
		d.mu.Unlock()
		return nil
	}
	f := delayOffsetsFile{OffsetTable: maps.Clone(d.saved)}
	d.dirty = false
	d.mu.Unlock()
	if err := saveJSON(d.path, f); err != nil {
		d.mu.Lock()
		d.dirty = true
		d.mu.Unlock()
		return err
	}
	return nil
}

// delayOffsets returns each delay level's next queue offset to deliver in
// SCHEDULE_TOPIC_XXXX (queue level-1), for admin requests.
func (b *Broker) delayOffsets() map[int]int64 {
	return b.delay.snapshot()
}

// delayHead is what the delivery loop knows of a level queue's first
// undelivered message: the queue offset it sits at and when it is due.
type delayHead struct {
	offset int64
	due    time.Time
}

// deliverDelayedLoop delivers delayed messages when due, until the broker
// stops. Saving the offsets (two fsyncs) is left to a goroutine of its own,
// so that a slow disk never makes a delivery late.
func (b *Broker) deliverDelayedLoop() {
	saveReq := make(chan struct{}, 1)
	var saver sync.WaitGroup
	saver.Go(func() { b.saveDelayOffsetsLoop(saveReq) })
	defer func() {
		saver.Wait()
		b.delay.settle(0, true)
		if err := b.delay.save(); err != nil {
			b.log.Error("delay offsets not saved", "err", err)
		}
	}()

	levels := b.delayLevelCount()
	heads := make(map[int]delayHead, levels)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-timer.C:
		case <-b.delayWake:
		}
		now := b.cfg.Store.Now()
		wait := delayIdleWake
		if next := b.deliverDue(levels, heads, now); !next.IsZero() {
			wait = min(wait, next.Sub(now))
		}
		// Have what is durable saved; come back for what is not durable
		// yet, or not saved yet.
		pending := b.delay.settle(b.store.Stats().FlushedOffset, false)
		if b.delay.needsSave() {
			select {
			case saveReq <- struct{}{}:
			default:
			}
			pending = true
		}
		if pending {
			wait = min(wait, delaySaveInterval)
		}
		timer.Reset(max(wait, 0))
	}
}

// saveDelayOffsetsLoop saves the delay offsets when asked, at most once
// per delaySaveInterval, until the broker stops.
func (b *Broker) saveDelayOffsetsLoop(req <-chan struct{}) {
	for {
		select {
		case <-b.stop:
			return
		case <-req:
		}
		pause := delaySaveInterval
		if err := b.delay.save(); err != nil {
			b.log.Error("delay offsets not saved, will retry", "err", err)
			pause = time.Second // not ten errors a second
		}
		t := time.NewTimer(pause)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// delayLevelCount is the number of level queues to serve: the configured
// levels, or more if the schedule topic has queues of levels configured
// earlier (their messages are delivered after the longest delay rather
// than never).
func (b *Broker) delayLevelCount() int {
	n := len(b.cfg.MessageDelayLevel)
	for _, q := range b.store.Queues() {
		if q.Topic == TopicSchedule && int(q.QueueID) >= n && q.MaxOffset > 0 {
			n = int(q.QueueID) + 1
		}
	}
	return n
}

// levelDelay is the delay of a level; levels beyond the configured ones
// get the longest.
func (b *Broker) levelDelay(level int) time.Duration {
	lv := b.cfg.MessageDelayLevel
	return lv[min(level, len(lv))-1]
}

func (b *Broker) stopping() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// deliverDue delivers the messages due by now, up to delayRoundBudget per
// level, and returns when to look again: when the next one is due, now if
// some level has more due, zero if none waits.
func (b *Broker) deliverDue(levels int, heads map[int]delayHead, now time.Time) time.Time {
	var next time.Time
	for level := 1; level <= levels && !b.stopping(); level++ {
		due := b.deliverLevel(level, heads, now)
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// deliverLevel delivers the due messages of one level, up to
// delayRoundBudget, and returns when its next message is due (now if the
// budget ran out, zero if it has none). heads caches the due time of the
// level's first waiting message, so a level whose head is not due costs no
// read.
func (b *Broker) deliverLevel(level int, heads map[int]delayHead, now time.Time) time.Time {
	qid := int32(level - 1)
	delay := b.levelDelay(level)
	off := b.delay.get(level)
	single := false // read one record at a time (after an undecodable batch)
	budget := delayRoundBudget
	for !b.stopping() {
		maxOff := b.store.MaxOffset(TopicSchedule, qid)
		if off > maxOff {
			// The queue lost its tail in a crash: the offsets above were
			// never delivered and are now written anew.
			b.log.Warn("delay offset beyond the schedule queue, moved back", "level", level, "queueOffset", off, "maxOffset", maxOff)
			off = maxOff
			b.delay.advance(level, off, 0)
		}
		if off == maxOff {
			return time.Time{}
		}
		if h, ok := heads[level]; ok && h.offset == off && h.due.After(now) {
			return h.due
		}
		req := store.GetRequest{Topic: TopicSchedule, QueueID: qid, Offset: off, MaxCount: 32}
		if single {
			req.MaxCount = 1
		}
		res, err := b.store.GetMessages(req)
		if err != nil {
			return time.Time{} // the store is closing
		}
		switch res.Status {
		case store.Found:
		case store.OffsetTooSmall, store.MessageWasRemoving, store.NoMatchedMessage, store.OffsetFoundNull:
			// Retention removed messages before they were due.
			if res.NextOffset <= off {
				return time.Time{}
			}
			b.log.Error("delayed messages removed by retention before delivery", "level", level, "queueOffset", off, "nextOffset", res.NextOffset)
			off = res.NextOffset
			b.delay.advance(level, off, 0)
			continue
		default:
			return time.Time{}
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			if !single {
				single = true
				continue
			}
			b.log.Error("delayed message unreadable, skipped", "level", level, "queueOffset", off, "err", err)
			off = res.NextOffset
			b.delay.advance(level, off, 0)
			continue
		}
		single = false
		var end int64 // of the last copy written
		for _, m := range msgs {
			due := time.UnixMilli(m.StoreTimestamp).Add(delay)
			// Stored "in the future": the clock went back. Deliver now
			// rather than after the clock catches up. The clock is read
			// again here: now was taken before the read, and a message
			// stored since then is not from the future (it was delivered
			// early when compared with now).
			if due.After(time.Now().Add(delay)) {
				due = now
			}
			if due.After(now) || b.stopping() {
				heads[level] = delayHead{offset: m.QueueOffset, due: due}
				b.delay.advance(level, m.QueueOffset, end)
				return due
			}
			if budget == 0 {
				// More is due: come back at once, after the others.
				b.delay.advance(level, m.QueueOffset, end)
				return now
			}
			budget--
			e, err := b.deliverDelayed(m)
			if err != nil {
				b.log.Error("delayed message not delivered, will retry", "level", level, "queueOffset", m.QueueOffset, "err", err)
				retry := now.Add(delayRetryWait)
				heads[level] = delayHead{offset: m.QueueOffset, due: retry}
				b.delay.advance(level, m.QueueOffset, end)
				return retry
			}
			end = max(end, e)
		}
		off = res.NextOffset
		b.delay.advance(level, off, end)
	}
	return time.Time{}
}

// deliverDelayed writes a copy of a due message to its real topic and
// queue. It returns the commit-log end of the copy, 0 if the message was
// dropped; an error means "not stored, try again later".
func (b *Broker) deliverDelayed(m *protocol.Message) (end int64, err error) {
	topic := m.Property(protocol.PropertyRealTopic)
	qid, qerr := strconv.ParseInt(m.Property(protocol.PropertyRealQueueID), 10, 32)
	if topic == "" || topic == TopicSchedule || qerr != nil || qid < 0 {
		b.log.Error("delayed message without a valid real topic and queue, dropped", "offset", m.PhysicalOffset,
			"topic", topic, "queueId", m.Property(protocol.PropertyRealQueueID))
		return 0, nil
	}
	if _, ok := b.topics.get(topic); !ok {
		b.log.Warn("delayed message's topic no longer exists, dropped", "topic", topic, "queueId", qid, "offset", m.PhysicalOffset)
		return 0, nil
	}
	out := &protocol.Message{
		Topic:                     topic,
		QueueID:                   int32(qid),
		Flag:                      m.Flag,
		SysFlag:                   m.SysFlag,
		BornTimestamp:             m.BornTimestamp,
		BornHost:                  m.BornHost,
		ReconsumeTimes:            m.ReconsumeTimes,
		PreparedTransactionOffset: m.PreparedTransactionOffset,
		BodyCRC:                   m.BodyCRC,
		Body:                      m.Body,
		Properties:                protocol.DeleteProperty(m.Properties, protocol.PropertyDelayLevel),
	}
	res, err := b.putInternal(context.Background(), out)
	if len(res.Offsets) > 0 {
		// Stored, even if the store says it is not durable yet (sync
		// flush timed out): the offsets wait for it (see settle).
		return res.Offsets[0] + int64(res.Bytes), nil
	}
	if permanentStoreError(err) {
		b.log.Error("delayed message can never be stored in its topic, dropped", "topic", topic, "queueId", qid, "offset", m.PhysicalOffset, "err", err)
		return 0, nil
	}
	return 0, err
}

// permanentStoreError reports store errors that retrying the same message
// cannot cure.
func permanentStoreError(err error) bool {
	return errors.Is(err, store.ErrMessageTooLarge) || errors.Is(err, store.ErrInvalidTopic) ||
		errors.Is(err, protocol.ErrTopicLength) || errors.Is(err, protocol.ErrPropsLength)
}
