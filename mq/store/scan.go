package store

import (
	"fmt"
	"math"

	"github.com/surge-mq/surge/mq/protocol"
)

// scan walks the records of the commit log from off (a record boundary) up
// to end, calling fn with each decoded message. It steps over segment-end
// markers. With verify it checks each body's CRC. It returns the offset
// after the last good record; err says why it stopped early (a bad record:
// a *CorruptError).
func (cl *commitLog) scan(off, end int64, verify bool, fn func(m *protocol.Message) error) (int64, error) {
	for off < end {
		cl.segsMu.RLock()
		s := cl.segmentLocked(off)
		if s == nil {
			cl.segsMu.RUnlock()
			return off, nil
		}
		next, err := scanSegment(s, off, min(end, s.end()), verify, fn)
		cl.segsMu.RUnlock()
		if err != nil {
			return next, err
		}
		if next == off {
			return off, nil
		}
		off = next
	}
	return off, nil
}

// scanSegment scans one segment from off; it returns where it stopped. It
// stops without error at end, at a zero size (space never written) or after
// a blank marker (returning the segment end).
func scanSegment(s *segment, off, end int64, verify bool, fn func(m *protocol.Message) error) (int64, error) {
	// decoded is reused from record to record, so the records of one topic
	// share its topic string instead of allocating one each.
	var m, decoded protocol.Message
	for off < end {
		b := s.data[off-s.base : end-s.base]
		size, magic, err := protocol.RecordSize(b)
		if err != nil || size == 0 && magic == 0 {
			return off, nil
		}
		switch magic {
		case protocol.BlankMagic:
			if int64(size) != s.end()-off {
				return off, &CorruptError{File: s.path, Offset: off, Reason: fmt.Sprintf("end marker of %d bytes, %d left in segment", size, s.end()-off)}
			}
			return s.end(), nil
		case protocol.MessageMagic:
		default:
			return off, &CorruptError{File: s.path, Offset: off, Reason: fmt.Sprintf("bad magic %#08x", magic)}
		}
		dm := &decoded
		if err := dm.DecodeInto(b, verify); err != nil {
			return off, &CorruptError{File: s.path, Offset: off, Reason: err.Error()}
		}
		if dm.PhysicalOffset != off {
			return off, &CorruptError{File: s.path, Offset: off, Reason: fmt.Sprintf("record says offset %d", dm.PhysicalOffset)}
		}
		// The CRC covers only the body: a header an append cannot have
		// written (PutMessages checks the topic, queue offsets count from 0)
		// would send the record to a bogus consume queue.
		if err := ValidTopic(dm.Topic); err != nil || dm.QueueOffset < 0 || dm.QueueOffset > math.MaxInt64/cqEntrySize/2 {
			return off, &CorruptError{File: s.path, Offset: off, Reason: fmt.Sprintf("impossible header: topic %q, queue offset %d", dm.Topic, dm.QueueOffset)}
		}
		m = *dm
		if err := fn(&m); err != nil {
			return off, err
		}
		off += int64(size)
	}
	return off, nil
}
