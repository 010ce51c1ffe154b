package store

import "time"

// Resident memory
//
// Every page of the store's mappings the broker touches counts as its
// resident memory until the mapping of that page is dropped, however old
// the data. releaseLoop drops, every releaseInterval, the commit-log pages
// more than keepMapped behind the flushed offset (those a backlog consumer
// just read, mostly), and every releaseInterval*releaseAllEvery the
// mappings of full consume-queue segments and written index entries. After
// idleAfter without appends it drops every mapping. The data stays in the
// page cache: whoever reads or writes it again maps it again, a minor
// fault per page.
const (
	releaseInterval = 200 * time.Millisecond
	releaseAllEvery = 5
	idleAfter       = 3 * time.Second
)

func (s *Store) releaseLoop() {
	tick := time.NewTicker(releaseInterval)
	defer tick.Stop()
	lastWritten, lastAppend := s.cl.written.Load(), time.Now()
	for n := 1; ; n++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if w := s.cl.written.Load(); w != lastWritten {
			lastWritten, lastAppend = w, time.Now()
		}
		idle := time.Since(lastAppend) >= idleAfter
		if n%releaseAllEvery == 0 {
			s.releaseMemory(idle)
		} else {
			s.cl.release(idle)
		}
	}
}

// releaseMemory drops the mappings of data the broker is unlikely to touch
// again soon: commit log, consume queues and index.
func (s *Store) releaseMemory(idle bool) {
	s.cl.release(idle)
	for _, cq := range s.queueList() {
		cq.release(idle)
	}
	if s.ix != nil {
		s.ix.release(idle)
	}
}
