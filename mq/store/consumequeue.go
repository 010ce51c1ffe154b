package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// cqEntrySize is the size of a consume-queue entry: commit-log offset
// (int64), record size (int32), tag code (int64), big-endian.
const cqEntrySize = 20

// cqEntry is one consume-queue entry. size 0 marks an unused slot.
type cqEntry struct {
	phy  int64
	size int32
	tag  int64
}

// consumeQueue is the index of one (topic, queue): entry n describes the
// message at queue offset n. Files are named by the byte offset of their
// first entry, as RocketMQ names them.
//
// One writer (the store's appender, or recovery) adds entries in queue
// offset order; readers load max and read entries below it.
type consumeQueue struct {
	topic   string
	queueID int32
	dir     string
	perFile int64 // entries per segment

	// mu guards segs: the writer write-locks it to add or drop a segment.
	mu   sync.RWMutex
	segs []*segment

	min atomic.Int64 // smallest readable queue offset
	max atomic.Int64 // next queue offset to be written
	// flushed is the number of entries known durable; flusher only.
	flushed int64
}

func cqDir(root, topic string, queueID int32) string {
	return filepath.Join(root, topic, strconv.Itoa(int(queueID)))
}

// openConsumeQueue loads a queue's segments. A gap between segments (a
// missing file) is reported with errQueueBroken so the caller can rebuild
// the queue from the commit log.
func openConsumeQueue(root, topic string, queueID int32, perFile int) (*consumeQueue, error) {
	cq := &consumeQueue{topic: topic, queueID: queueID, dir: cqDir(root, topic, queueID), perFile: int64(perFile)}
	bases, err := listSegments(cq.dir)
	if err != nil {
		return nil, err
	}
	segBytes := cq.perFile * cqEntrySize
	for i, b := range bases {
		if b%segBytes != 0 || (i > 0 && b != bases[i-1]+segBytes) {
			cq.close()
			return nil, fmt.Errorf("consume queue %s/%d: segment %s out of sequence: %w", topic, queueID, segmentName(b), errQueueBroken)
		}
		s, err := openSegment(filepath.Join(cq.dir, segmentName(b)), b, segBytes)
		if err != nil {
			cq.close()
			return nil, err
		}
		cq.segs = append(cq.segs, s)
	}
	cq.loadBounds()
	return cq, nil
}

// errQueueBroken marks a consume queue that must be rebuilt.
var errQueueBroken = errors.New("consume queue needs a rebuild")

// loadBounds finds min and max from the entries on disk: slots are zero
// until written, so the used entries are the non-zero run.
func (cq *consumeQueue) loadBounds() {
	if len(cq.segs) == 0 {
		return
	}
	first := cq.segs[0].base / cqEntrySize
	last := cq.segs[len(cq.segs)-1]
	lastBase := last.base / cqEntrySize
	// max: just past the last used slot of the last segment.
	n := sort.Search(int(cq.perFile), func(i int) bool { return entryAt(last.data, int64(i)).size == 0 })
	// Slots after a zero slot may still be used if a crash tore the file;
	// scan back from the end to be exact.
	for i := cq.perFile - 1; i >= int64(n); i-- {
		if entryAt(last.data, i).size != 0 {
			n = int(i) + 1
			break
		}
	}
	cq.max.Store(lastBase + int64(n))
	// min: the first used slot of the first segment.
	s0 := cq.segs[0]
	// Only a queue rebuilt after retention starts with unused slots.
	m := int64(0)
	for m < cq.perFile && entryAt(s0.data, m).size == 0 {
		m++
	}
	cq.min.Store(min(first+m, cq.max.Load()))
}

func entryAt(data []byte, i int64) cqEntry {
	b := data[i*cqEntrySize : i*cqEntrySize+cqEntrySize]
	return cqEntry{
		phy:  int64(binary.BigEndian.Uint64(b)),
		size: int32(binary.BigEndian.Uint32(b[8:])),
		tag:  int64(binary.BigEndian.Uint64(b[12:])),
	}
}

// segmentLocked returns the segment holding queue offset qo, or nil.
func (cq *consumeQueue) segmentLocked(qo int64) *segment {
	if len(cq.segs) == 0 {
		return nil
	}
	first := cq.segs[0].base / cqEntrySize
	if qo < first {
		return nil
	}
	i := (qo - first) / cq.perFile
	if i >= int64(len(cq.segs)) {
		return nil
	}
	return cq.segs[i]
}

// entries appends to dst the entries from qo up to (not including) end.
func (cq *consumeQueue) entries(dst []cqEntry, qo, end int64) []cqEntry {
	cq.mu.RLock()
	defer cq.mu.RUnlock()
	for ; qo < end; qo++ {
		s := cq.segmentLocked(qo)
		if s == nil {
			break
		}
		dst = append(dst, entryAt(s.data, qo-s.base/cqEntrySize))
	}
	return dst
}

// entry returns the entry at qo (size 0 if none).
func (cq *consumeQueue) entry(qo int64) cqEntry {
	var buf [1]cqEntry
	e := cq.entries(buf[:0], qo, qo+1)
	if len(e) == 0 {
		return cqEntry{}
	}
	return e[0]
}

// ensure creates the segment for queue offset qo (and any before it that a
// rebuild skipped). Writer only.
func (cq *consumeQueue) ensure(qo int64) error {
	cq.mu.RLock()
	s := cq.segmentLocked(qo)
	cq.mu.RUnlock()
	if s != nil {
		return nil
	}
	if err := os.MkdirAll(cq.dir, 0o755); err != nil {
		return fmt.Errorf("consume queue dir: %w", err)
	}
	segBytes := cq.perFile * cqEntrySize
	base := (qo / cq.perFile) * segBytes
	if n := len(cq.segs); n > 0 {
		base = cq.segs[n-1].end()
	}
	for {
		s, err := createSegment(cq.dir, base, segBytes)
		if err != nil {
			return fmt.Errorf("consume queue %s/%d: %w", cq.topic, cq.queueID, err)
		}
		cq.mu.Lock()
		cq.segs = append(cq.segs, s)
		cq.mu.Unlock()
		if s.end()/cqEntrySize > qo {
			return nil
		}
		base = s.end()
	}
}

// write stores the entry for qo; ensure(qo) must have succeeded. The entry
// becomes readable when max moves past it. Writer only.
func (cq *consumeQueue) write(qo int64, e cqEntry) {
	cq.mu.RLock()
	s := cq.segmentLocked(qo)
	cq.mu.RUnlock()
	b := s.data[(qo-s.base/cqEntrySize)*cqEntrySize:]
	binary.BigEndian.PutUint64(b, uint64(e.phy))
	binary.BigEndian.PutUint32(b[8:], uint32(e.size))
	binary.BigEndian.PutUint64(b[12:], uint64(e.tag))
	if qo >= cq.max.Load() {
		if cq.max.Load() == cq.min.Load() && qo > cq.min.Load() {
			// First entry of a queue rebuilt after retention: nothing below.
			cq.min.Store(qo)
		}
		cq.max.Store(qo + 1)
	}
}

// truncate drops the entries at and above qo. Recovery only.
func (cq *consumeQueue) truncate(qo int64) error {
	max := cq.max.Load()
	if qo >= max {
		return nil
	}
	cq.mu.Lock()
	defer cq.mu.Unlock()
	keep := cq.segs[:0]
	for _, s := range cq.segs {
		first := s.base / cqEntrySize
		if first >= qo {
			if err := s.remove(); err != nil {
				return err
			}
			continue
		}
		if qo < first+cq.perFile {
			if err := s.zero((qo - first) * cqEntrySize); err != nil {
				return err
			}
		}
		keep = append(keep, s)
	}
	cq.segs = keep
	cq.max.Store(qo)
	if cq.min.Load() > qo {
		cq.min.Store(qo)
	}
	if cq.flushed > qo {
		cq.flushed = qo
	}
	return nil
}

// sync makes the written entries durable. Flusher only.
func (cq *consumeQueue) sync() error {
	to := cq.max.Load()
	if to <= cq.flushed {
		return nil
	}
	cq.mu.RLock()
	defer cq.mu.RUnlock()
	for _, s := range cq.segs {
		first := s.base / cqEntrySize
		last := first + cq.perFile
		if last <= cq.flushed || first >= to {
			continue
		}
		if err := s.sync((max(cq.flushed, first)-first)*cqEntrySize, (min(to, last)-first)*cqEntrySize); err != nil {
			return err
		}
	}
	cq.flushed = to
	return nil
}

// deleteBelow drops the segments whose every entry points below the
// commit log's minimum offset, and moves min past such entries. It returns
// how many files were removed.
func (cq *consumeQueue) deleteBelow(clMin int64) (int, error) {
	cq.mu.Lock()
	defer cq.mu.Unlock()
	removed := 0
	max := cq.max.Load()
	for len(cq.segs) > 1 {
		s := cq.segs[0]
		last := entryAt(s.data, cq.perFile-1)
		if last.size == 0 || last.phy+int64(last.size) > clMin {
			break
		}
		if err := s.remove(); err != nil {
			return removed, err
		}
		cq.segs = cq.segs[1:]
		removed++
	}
	// Move min to the first entry still in the commit log.
	qo := cq.min.Load()
	for qo < max {
		s := cq.segmentLocked(qo)
		if s == nil {
			if len(cq.segs) > 0 && qo < cq.segs[0].base/cqEntrySize {
				qo = cq.segs[0].base / cqEntrySize
				continue
			}
			break
		}
		e := entryAt(s.data, qo-s.base/cqEntrySize)
		if e.size != 0 && e.phy >= clMin {
			break
		}
		qo++
	}
	cq.min.Store(qo)
	return removed, nil
}

// release drops the mappings of the queue's full segments, and of all of
// them when idle; see commitLog.release. Entries stay in the page cache.
func (cq *consumeQueue) release(idle bool) {
	cq.mu.RLock()
	defer cq.mu.RUnlock()
	for i, s := range cq.segs {
		if i < len(cq.segs)-1 || idle {
			s.advise(0, s.size(), unix.MADV_DONTNEED)
		}
	}
}

func (cq *consumeQueue) close() error {
	cq.mu.Lock()
	defer cq.mu.Unlock()
	var first error
	for _, s := range cq.segs {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
	}
	cq.segs = nil
	return first
}

// remove deletes the queue's files.
func (cq *consumeQueue) remove() error {
	if err := cq.close(); err != nil {
		return err
	}
	return os.RemoveAll(cq.dir)
}
