package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/surge-mq/surge/mq/protocol"
)

// Recovery
//
// A clean Close leaves a checkpoint and removes the abort marker: the next
// Open trusts the checkpoint's commit-log end and the consume queues on
// disk.
//
// Finding the abort marker means the process died. Then Open:
//  1. cuts every consume queue back to the entries below the checkpoint's
//     ConsumeQueueOffset (the ones known durable);
//  2. scans the commit log from there, verifying magic, lengths and body
//     CRC of each record, and writes the consume-queue entries again;
//  3. stops at the first bad record (a torn or garbage tail): keeps a copy
//     of the bytes it drops in <segment>.broken, zeroes them and removes
//     any later segment;
//  4. drops index entries beyond the good end; the index loop re-reads the
//     records after the index's last entry.
//
// Either way, a queue whose files are missing or out of sequence, or that
// is shorter than the checkpoint says, is rebuilt from the whole commit log.
// Consume queues and the index are derived data; the commit log is the only
// source of truth.
func (s *Store) load() error {
	cp, cpErr := readCheckpoint(s.checkpoint())
	_, abortErr := os.Stat(filepath.Join(s.cfg.Dir, abortFile))
	crashed := abortErr == nil
	if cpErr != nil {
		s.log.Warn("checkpoint unreadable, recovering from the whole commit log", "err", cpErr)
		cp, crashed = nil, true
	}
	broken, err := s.openQueues()
	if err != nil {
		return err
	}
	if err := s.openIndex(); err != nil {
		return err
	}
	clMin := s.cl.minOffset()
	clEnd := clMin
	if n := len(s.cl.segs); n > 0 {
		clEnd = s.cl.segs[n-1].end()
	}
	if cp != nil {
		for _, q := range cp.Queues {
			cq := s.queue(q.Topic, q.QueueID, false)
			if cq == nil || cq.max.Load() < q.MaxOffset {
				s.log.Warn("consume queue shorter than checkpoint, rebuilding", "topic", q.Topic, "queueId", q.QueueID, "queueOffset", q.MaxOffset)
				broken[queueKey{q.Topic, q.QueueID}] = true
			}
		}
	}

	switch {
	case len(s.cl.segs) == 0:
		// A new store, or one whose commit log is gone entirely: nothing
		// to recover, and no queue can be rebuilt.
	case !crashed && cp != nil && cp.CommitLogEnd >= clMin && cp.CommitLogEnd <= clEnd:
		s.cl.written.Store(cp.CommitLogEnd)
		s.cl.flushed.Store(cp.CommitLogEnd)
	default:
		start := clMin
		if cp != nil {
			start = min(max(clMin, cp.ConsumeQueueOffset), clEnd)
		}
		if err := s.recoverTail(start, broken); err != nil {
			return err
		}
	}
	if len(broken) > 0 {
		if err := s.rebuildQueues(broken); err != nil {
			return err
		}
	}
	// Entries whose records retention removed are not readable.
	clMin = s.cl.minOffset()
	for _, cq := range s.queues {
		if _, err := cq.deleteBelow(clMin); err != nil {
			return fmt.Errorf("consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
	}
	s.resumeIndex(cp)
	return nil
}

// openQueues opens every consume queue on disk. Queues that cannot be
// opened as they are come back in the broken set, their files removed.
func (s *Store) openQueues() (map[queueKey]bool, error) {
	broken := make(map[queueKey]bool)
	topics, err := os.ReadDir(s.cqRoot())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read consume queues: %w", err)
	}
	for _, t := range topics {
		if !t.IsDir() {
			continue
		}
		qdirs, err := os.ReadDir(filepath.Join(s.cqRoot(), t.Name()))
		if err != nil {
			return nil, fmt.Errorf("read consume queues: %w", err)
		}
		for _, q := range qdirs {
			id, err := strconv.ParseInt(q.Name(), 10, 32)
			if !q.IsDir() || err != nil {
				return nil, fmt.Errorf("consume queue %s/%s: %w: not a queue directory", t.Name(), q.Name(), ErrForeignFormat)
			}
			k := queueKey{t.Name(), int32(id)}
			cq, err := openConsumeQueue(s.cqRoot(), k.topic, k.queueID, s.cfg.ConsumeQueueEntries)
			if errors.Is(err, errQueueBroken) || errors.Is(err, ErrCorrupt) {
				s.log.Warn("consume queue unusable, rebuilding from the commit log", "topic", k.topic, "queueId", k.queueID, "err", err)
				if err := os.RemoveAll(cqDir(s.cqRoot(), k.topic, k.queueID)); err != nil {
					return nil, err
				}
				broken[k] = true
				continue
			}
			if err != nil {
				return nil, err
			}
			s.queues[k] = cq
		}
	}
	return broken, nil
}

// openIndex opens the index; an unreadable index is derived data, so it is
// moved aside and rebuilt rather than refusing to start.
func (s *Store) openIndex() error {
	cfg := indexConfig{Dir: s.indexDir(), SlotsPerFile: s.cfg.IndexSlots, EntriesPerFile: s.cfg.IndexEntries, Logger: s.log}
	ix, err := openIndex(cfg)
	if err != nil {
		aside := s.indexDir() + ".broken"
		s.log.Warn("index unreadable, rebuilding it from the commit log", "err", err, "movedTo", aside)
		os.RemoveAll(aside)
		if rerr := os.Rename(s.indexDir(), aside); rerr != nil {
			return fmt.Errorf("open index: %w (and moving it aside: %v)", err, rerr)
		}
		if ix, err = openIndex(cfg); err != nil {
			return fmt.Errorf("open index: %w", err)
		}
	}
	s.ix = ix
	return nil
}

// recoverTail re-dispatches the records after start and cuts the commit log
// at the first bad one.
func (s *Store) recoverTail(start int64, broken map[queueKey]bool) error {
	s.log.Warn("store was not closed cleanly, recovering", "offset", start)
	// 1. Drop entries that may not be durable.
	for _, cq := range s.queues {
		if err := cq.truncate(s.firstEntryAtOrAbove(cq, start)); err != nil {
			return fmt.Errorf("truncate consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
	}
	// 2. Scan and re-dispatch.
	end := start
	if n := len(s.cl.segs); n > 0 {
		end = s.cl.segs[n-1].end()
	}
	good, scanErr := s.cl.scan(start, end, true, func(m *protocol.Message) error {
		return s.dispatchQueue(m, false, broken)
	})
	var ce *CorruptError
	if scanErr != nil && !errors.As(scanErr, &ce) {
		return fmt.Errorf("recover commit log: %w", scanErr)
	}
	// 3. Cut the tail.
	if err := s.cutTail(good, ce); err != nil {
		return err
	}
	// 4. Index entries past the end go.
	if err := s.ix.TruncateFrom(good); err != nil {
		return fmt.Errorf("truncate index: %w", err)
	}
	for _, cq := range s.queues {
		// A queue may point past the good end only if its entries came from
		// before the checkpoint and the commit log lost them: rebuild.
		if last := cq.entry(cq.max.Load() - 1); cq.max.Load() > 0 && last.size > 0 && last.phy+int64(last.size) > good {
			broken[queueKey{cq.topic, cq.queueID}] = true
		}
	}
	s.log.Info("recovered commit log", "offset", good, "from", start)
	return nil
}

// firstEntryAtOrAbove finds the first queue offset whose record starts at or
// above phy. Entries are in commit-log order, so it is a binary search.
func (s *Store) firstEntryAtOrAbove(cq *consumeQueue, phy int64) int64 {
	lo, hi := cq.min.Load(), cq.max.Load()
	n := sort.Search(int(hi-lo), func(i int) bool {
		e := cq.entry(lo + int64(i))
		return e.size == 0 || e.phy >= phy
	})
	return lo + int64(n)
}

// cutTail makes good the end of the commit log: bytes after it in its
// segment are saved to a .broken file (if any were non-zero) and zeroed;
// later segments are removed.
func (s *Store) cutTail(good int64, why *CorruptError) error {
	cl := s.cl
	keep := cl.segs[:0]
	for _, seg := range cl.segs {
		switch {
		case seg.end() <= good:
			keep = append(keep, seg)
		case seg.base > good || (seg.base == good && len(keep) > 0):
			s.saveBroken(seg, 0, why)
			if err := seg.remove(); err != nil {
				return fmt.Errorf("remove segment after the good end: %w", err)
			}
		default:
			s.saveBroken(seg, good-seg.base, why)
			if err := seg.zero(good - seg.base); err != nil {
				return fmt.Errorf("cut torn tail: %w", err)
			}
			keep = append(keep, seg)
		}
	}
	cl.segs = keep
	cl.written.Store(good)
	cl.flushed.Store(good)
	return nil
}

// saveBroken copies the non-zero bytes of seg from off into a .broken file
// next to it, so that nothing is lost without a trace.
func (s *Store) saveBroken(seg *segment, off int64, why *CorruptError) {
	data := seg.data[off:]
	last := brokenLength(data)
	if last == 0 {
		return
	}
	path := fmt.Sprintf("%s.%d.broken", seg.path, seg.base+off)
	reason := "bytes after the end marker"
	if why != nil {
		reason = why.Reason
	}
	s.log.Warn("dropping bad commit-log tail", "file", seg.path, "offset", seg.base+off, "bytes", last, "reason", reason, "copy", path)
	if err := os.WriteFile(path, data[:last], 0o644); err != nil {
		s.log.Error("saving dropped tail failed", "file", path, "err", err)
	}
}

// brokenLength is how much of a dropped tail is worth keeping: up to the
// first all-zero 64 KiB run (the space never written), at most 64 MiB. It
// reads forward, so a 1 GiB segment with a short tail costs a few pages,
// not a scan of its whole unused remainder.
func brokenLength(data []byte) int {
	const run, limit = 64 << 10, 64 << 20
	end := 0
	for off := 0; off < len(data) && off < limit; off += run {
		chunk := data[off:min(off+run, len(data))]
		last := len(chunk)
		for last > 0 && chunk[last-1] == 0 {
			last--
		}
		if last == 0 {
			break
		}
		end = off + last
	}
	return end
}

// rebuildQueues rebuilds the given queues from the whole commit log.
func (s *Store) rebuildQueues(broken map[queueKey]bool) error {
	for k := range broken {
		if cq := s.queues[k]; cq != nil {
			if err := cq.remove(); err != nil {
				return err
			}
			delete(s.queues, k)
		}
		s.log.Info("rebuilding consume queue", "topic", k.topic, "queueId", k.queueID)
	}
	_, err := s.cl.scan(s.cl.minOffset(), s.cl.written.Load(), false, func(m *protocol.Message) error {
		if !broken[queueKey{m.Topic, m.QueueID}] {
			return nil
		}
		return s.dispatchQueue(m, true, map[queueKey]bool{})
	})
	if err != nil {
		return fmt.Errorf("rebuild consume queues: %w", err)
	}
	return nil
}

// resumeIndex sets where the index loop starts: at the last indexed
// record, or at the checkpoint's index offset if that is further (records
// without keys leave no index entry).
func (s *Store) resumeIndex(cp *checkpointData) {
	from := s.cl.minOffset()
	if cp != nil && cp.IndexOffset > from && cp.IndexOffset <= s.cl.written.Load() {
		from = cp.IndexOffset
	}
	// Resume at (not after) the last indexed record: a crash between the
	// keys of one message must not lose the rest of its keys. Its entries
	// are dropped and added again, so the index only ever grows in offset
	// order, which Add requires.
	if last := s.ix.MaxPhyOffset(); last >= from {
		if _, err := s.cl.recordAt(last); err == nil {
			from = last
		}
		if err := s.ix.TruncateFrom(from); err != nil {
			s.log.Error("index not truncated to the resume point; key queries may miss messages after it", "offset", from, "err", err)
		}
	}
	s.indexedTo.Store(from)
}
