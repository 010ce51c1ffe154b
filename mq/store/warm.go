package store

import (
	"golang.org/x/sys/unix"
)

// Warming
//
// The first write to each page of a fresh mapping takes a page fault that
// allocates the page-cache page; done by the appender, under the put lock,
// those faults cost more than the copies themselves. warmLoop keeps the
// pages ahead of the write position populated (MADV_POPULATE_WRITE, which
// faults pages in without changing their contents), and creates the next
// segment before the appender needs it.

// warmAhead is how far ahead of the write position pages are populated.
const warmAhead = 32 << 20

// warmStep is how much one madvise call populates.
const warmStep = 2 << 20

func (s *Store) warmLoop() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.warmWake:
		}
		s.cl.warm(s.cl.written.Load()+warmAhead, s.stop)
	}
}

// warm populates the mapping up to offset to, creating the next segment as
// a spare when to passes the current one. Only warmLoop calls it.
func (cl *commitLog) warm(to int64, stop <-chan struct{}) {
	for from := cl.warmed.Load(); from < to; {
		select {
		case <-stop:
			return
		default:
		}
		seg := cl.warmTarget(from)
		if seg == nil {
			return
		}
		from = max(from, seg.base)
		end := min(seg.end(), from+warmStep)
		// Errors only cost speed: the appender faults the pages in itself.
		seg.advise(from-seg.base, end-seg.base, unix.MADV_POPULATE_WRITE)
		from = end
		cl.warmed.Store(from)
	}
}

// warmTarget returns the segment holding off: an existing one, the spare,
// or a newly created spare.
func (cl *commitLog) warmTarget(off int64) *segment {
	cl.segsMu.RLock()
	seg := cl.segmentLocked(off)
	var last *segment
	if n := len(cl.segs); n > 0 {
		last = cl.segs[n-1]
	}
	cl.segsMu.RUnlock()
	if seg != nil {
		return seg
	}
	if last == nil || off < last.end() {
		return nil
	}
	cl.spareMu.Lock()
	defer cl.spareMu.Unlock()
	if cl.spare == nil {
		sp, err := createSegment(cl.dir, last.end(), cl.segSize)
		if err != nil {
			return nil // the appender will try and report it
		}
		cl.spare = sp
	}
	if cl.spare.base != off-(off-last.end())%cl.segSize || off >= cl.spare.end() {
		return nil
	}
	return cl.spare
}

// takeSpare returns the spare segment if it starts at base.
func (cl *commitLog) takeSpare(base int64) *segment {
	cl.spareMu.Lock()
	defer cl.spareMu.Unlock()
	sp := cl.spare
	if sp == nil || sp.base != base {
		return nil
	}
	cl.spare = nil
	return sp
}
