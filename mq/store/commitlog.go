package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/surge-mq/surge/mq/protocol"
)

// blankRecordSize is the room a segment always keeps after its last record
// for the end-of-file marker: TOTALSIZE and the blank magic.
const blankRecordSize = 8

// commitLog is the append-only log of every message of every topic, split
// into segments of equal size. Offsets are global byte positions.
//
// Appends are made by one goroutine at a time (the caller holds the store's
// put lock); readers run concurrently and only read below written, so they
// never see a half-written record.
type commitLog struct {
	dir     string
	segSize int64

	// segsMu guards segs. The appender write-locks it only to add a segment;
	// retention write-locks it to drop old ones; readers read-lock it while
	// they copy bytes out.
	segsMu sync.RWMutex
	segs   []*segment

	// written is the offset just past the last complete record.
	written atomic.Int64
	// flushed is the offset up to which the log is durable.
	flushed atomic.Int64
	// warmed is the offset up to which pages are populated (warm.go).
	warmed atomic.Int64
	// spareMu guards spare, the next segment created ahead of time.
	spareMu sync.Mutex
	spare   *segment
}

func openCommitLog(dir string, segSize int64) (*commitLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("commit log dir: %w", err)
	}
	bases, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	cl := &commitLog{dir: dir, segSize: segSize}
	for i, b := range bases {
		if i > 0 && b != bases[i-1]+segSize {
			cl.close()
			return nil, &CorruptError{File: dir, Offset: b, Reason: fmt.Sprintf("segment %s does not follow %s (missing segment, or another segment size)", segmentName(b), segmentName(bases[i-1]))}
		}
		if b%segSize != 0 {
			cl.close()
			return nil, &CorruptError{File: dir, Offset: b, Reason: fmt.Sprintf("segment name %s is not a multiple of the segment size %d", segmentName(b), segSize)}
		}
		s, err := openSegment(fmt.Sprintf("%s/%s", dir, segmentName(b)), b, segSize)
		if err != nil {
			cl.close()
			return nil, err
		}
		cl.segs = append(cl.segs, s)
	}
	return cl, nil
}

// minOffset is the offset of the oldest byte still stored.
func (cl *commitLog) minOffset() int64 {
	cl.segsMu.RLock()
	defer cl.segsMu.RUnlock()
	if len(cl.segs) == 0 {
		return cl.written.Load()
	}
	return cl.segs[0].base
}

// segmentLocked returns the segment holding off, or nil. segsMu is held.
func (cl *commitLog) segmentLocked(off int64) *segment {
	if len(cl.segs) == 0 || off < cl.segs[0].base {
		return nil
	}
	i := (off - cl.segs[0].base) / cl.segSize
	if i >= int64(len(cl.segs)) {
		return nil
	}
	return cl.segs[i]
}

// reserve returns where a record of size bytes goes: the segment and the
// offset. When the current segment cannot hold it plus an end marker, the
// next segment is created first and the rest of the current one is marked
// blank. Nothing is changed if an error is returned. Appender only.
func (cl *commitLog) reserve(size int) (*segment, int64, error) {
	pos := cl.written.Load()
	var cur *segment
	if n := len(cl.segs); n > 0 {
		cur = cl.segs[n-1]
	}
	if cur != nil && pos+int64(size)+blankRecordSize <= cur.end() {
		return cur, pos, nil
	}
	base := pos
	if cur != nil {
		base = cur.end()
	}
	next := cl.takeSpare(base)
	if next == nil {
		var err error
		next, err = createSegment(cl.dir, base, cl.segSize)
		if errors.Is(err, os.ErrExist) {
			// The warming goroutine created it first: it is the spare.
			next = cl.takeSpare(base)
		}
		if next == nil {
			return nil, 0, err
		}
	}
	if cur != nil && pos < cur.end() {
		b := cur.data[pos-cur.base:]
		binary.BigEndian.PutUint32(b, uint32(cur.end()-pos))
		binary.BigEndian.PutUint32(b[4:], protocol.BlankMagic)
	}
	cl.segsMu.Lock()
	cl.segs = append(cl.segs, next)
	cl.segsMu.Unlock()
	cl.written.Store(base)
	return next, base, nil
}

// recordAt copies the record at off into a new buffer. It checks that off is
// a readable position and that the record header is sane, so any offset a
// client sends us is safe to look up.
func (cl *commitLog) recordAt(off int64) ([]byte, error) {
	return cl.appendRecord(nil, off)
}

// appendRecord appends the record at off to dst.
func (cl *commitLog) appendRecord(dst []byte, off int64) ([]byte, error) {
	if off < 0 || off >= cl.written.Load() {
		return dst, fmt.Errorf("offset %d: %w", off, ErrNotFound)
	}
	cl.segsMu.RLock()
	defer cl.segsMu.RUnlock()
	s := cl.segmentLocked(off)
	if s == nil {
		return dst, fmt.Errorf("offset %d below the commit log's minimum: %w", off, ErrNotFound)
	}
	b := s.data[off-s.base:]
	size, magic, err := protocol.RecordSize(b)
	if err != nil || magic != protocol.MessageMagic || size < 8 || int64(size) > int64(len(b)) {
		return dst, fmt.Errorf("offset %d is not the start of a message: %w", off, ErrNotFound)
	}
	return append(dst, b[:size]...), nil
}

// syncTo makes the log durable up to off. The msyncs run without segsMu:
// holding it would stall an append that rolls to a new segment (it needs
// the write lock) for the whole flush. The segments synced hold the newest
// data, which retention never removes.
func (cl *commitLog) syncTo(off int64) error {
	from := cl.flushed.Load()
	if off <= from {
		return nil
	}
	cl.segsMu.RLock()
	var segs []*segment
	for _, s := range cl.segs {
		if s.end() > from && s.base < off {
			segs = append(segs, s)
		}
	}
	cl.segsMu.RUnlock()
	for _, s := range segs {
		if err := s.sync(max(from, s.base)-s.base, min(off, s.end())-s.base); err != nil {
			return err
		}
	}
	cl.flushed.Store(off)
	return nil
}

// keepMapped is how much of the log behind the flushed offset stays
// mapped while appends go on: the recent messages consumers are still
// reading.
const keepMapped = 64 << 20

// release drops the mappings of the flushed pages more than keepMapped
// behind the flushed offset; when idle (nothing appended for a while and
// everything flushed) it drops every mapping of the log, the pages
// populated ahead of the writer and the spare segment included. The data
// stays in the page cache (a later read or append maps it again), but the
// pages stop counting as the broker's resident memory, which otherwise
// grows with every byte written and every old byte read. releaseLoop
// calls it several times a second, so pages readers mapped again are
// dropped again.
func (cl *commitLog) release(idle bool) {
	flushed := cl.flushed.Load()
	if idle && flushed < cl.written.Load() {
		idle = false
	}
	off := flushed - keepMapped
	page := int64(os.Getpagesize())
	off -= off % page
	cl.segsMu.RLock()
	for _, s := range cl.segs {
		to := min(off, s.end())
		if idle {
			to = s.end()
		}
		if to > s.base {
			s.advise(0, to-s.base, unix.MADV_DONTNEED)
		}
	}
	cl.segsMu.RUnlock()
	if idle {
		cl.spareMu.Lock()
		if cl.spare != nil {
			cl.spare.advise(0, cl.spare.size(), unix.MADV_DONTNEED)
		}
		cl.spareMu.Unlock()
	}
}

func (cl *commitLog) close() error {
	cl.segsMu.Lock()
	defer cl.segsMu.Unlock()
	var first error
	for _, s := range cl.segs {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
	}
	cl.segs = nil
	cl.spareMu.Lock()
	if cl.spare != nil {
		// An unused spare holds no data; drop it so that the directory
		// lists only segments that were written.
		if err := cl.spare.remove(); err != nil && first == nil {
			first = err
		}
		cl.spare = nil
	}
	cl.spareMu.Unlock()
	return first
}
