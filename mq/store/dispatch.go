package store

import (
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// Consume-queue entries are written by the appender itself, under the put
// lock, so a message is readable from its queue as soon as the append
// returns. The index is built behind the appender by indexLoop, which
// reads the commit log from where it stopped: queries by key are not on the
// hot path, and a crash only means re-reading the records after
// IndexOffset.

// indexLoop keeps the index up with the commit log.
func (s *Store) indexLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.indexWake:
		case <-t.C:
		}
		if err := s.catchUpIndex(); err != nil {
			s.log.Error("index build failed", "offset", s.indexedTo.Load(), "err", err)
		}
	}
}

// catchUpIndex indexes the records between indexedTo and the end of the
// commit log. Only indexLoop and Close (after indexLoop stopped) call it.
func (s *Store) catchUpIndex() error {
	if s.ix == nil {
		return nil
	}
	from := max(s.indexedTo.Load(), s.cl.minOffset())
	to, err := s.cl.scan(from, s.cl.written.Load(), false, s.indexMessage)
	s.indexedTo.Store(to)
	return err
}

// indexMessage adds a message's keys and unique ID to the index.
func (s *Store) indexMessage(m *protocol.Message) error {
	if id := m.Property(protocol.PropertyUniqKey); id != "" {
		if err := s.ix.Add(indexKey(m.Topic, id), m.PhysicalOffset, m.StoreTimestamp); err != nil {
			return err
		}
	}
	for _, k := range protocol.Keys(m.Property(protocol.PropertyKeys)) {
		if err := s.ix.Add(indexKey(m.Topic, k), m.PhysicalOffset, m.StoreTimestamp); err != nil {
			return err
		}
	}
	return nil
}

// dispatchQueue writes the consume-queue entry of a record during recovery
// or a rebuild. In a partial scan (recovery from the checkpoint) a queue
// offset beyond the queue's end means entries are missing below it: the
// queue is reported for a full rebuild. A full scan starts at the oldest
// record, so a queue may begin at any offset.
func (s *Store) dispatchQueue(m *protocol.Message, full bool, broken map[queueKey]bool) error {
	cq := s.queue(m.Topic, m.QueueID, true)
	max := cq.max.Load()
	switch {
	case m.QueueOffset < max:
		return nil // already there
	case m.QueueOffset > max && (max > 0 || !full):
		broken[queueKey{m.Topic, m.QueueID}] = true
		return nil
	}
	if err := cq.ensure(m.QueueOffset); err != nil {
		return err
	}
	cq.write(m.QueueOffset, cqEntry{phy: m.PhysicalOffset, size: int32(m.EncodedSize()), tag: s.cfg.TagCode(m)})
	return nil
}
