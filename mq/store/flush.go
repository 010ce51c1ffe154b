package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Flushing
//
// ASYNC_FLUSH: appends return once their bytes are in the mapped segment
// (the page cache). flushLoop syncs whatever was written every
// FlushInterval.
//
// SYNC_FLUSH uses group commit. An append, after releasing the put lock,
// wakes flushLoop and waits until the flushed offset passes the end of its
// own record. flushLoop takes the current written offset W, syncs up to W
// with one msync, publishes flushed = W and broadcasts. Every append that
// finished before W was read shares that one sync; appends that arrive while
// it runs wake the loop again and are covered by the next one. So a sync's
// cost is spread over all appends that were waiting, and under load the
// rate of appends is the rate of syncs times the group size.

// notifier is a broadcast: waiters take the current channel, which is
// closed (and replaced) on each broadcast.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() notifier { return notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// waitFlushed blocks until the commit log is durable up to end.
func (s *Store) waitFlushed(ctx context.Context, end int64) error {
	wake(s.flushWake)
	var timeout <-chan time.Time
	for s.cl.flushed.Load() < end {
		ch := s.flushed.wait()
		if s.cl.flushed.Load() >= end {
			break
		}
		if timeout == nil {
			t := time.NewTimer(s.cfg.SyncFlushTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
			if p := s.flushErr.Load(); p != nil {
				return fmt.Errorf("%w: %w", ErrFlushTimeout, *p)
			}
		case <-timeout:
			return fmt.Errorf("%w: not durable after %v (syncFlushTimeout)", ErrFlushTimeout, s.cfg.SyncFlushTimeout)
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrFlushTimeout, ctx.Err())
		case <-s.stop:
			return ErrClosed
		}
	}
	return nil
}

// flushLoop syncs the commit log: on every wake-up with SYNC_FLUSH, every
// FlushInterval with ASYNC_FLUSH.
func (s *Store) flushLoop() {
	var tick <-chan time.Time
	if s.cfg.FlushType == AsyncFlush {
		t := time.NewTicker(s.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
		case <-s.flushWake:
		}
		s.flushCommitLog()
	}
}

func (s *Store) flushCommitLog() {
	to := s.cl.written.Load()
	if err := s.cl.syncTo(to); err != nil {
		s.log.Error("commit log flush failed", "offset", to, "err", err)
		s.flushErr.Store(&err)
	} else {
		s.flushErr.Store(nil)
	}
	s.flushed.broadcast()
}

// checkpointLoop syncs consume queues and the index and writes the
// checkpoint every ConsumeQueueFlushInterval.
func (s *Store) checkpointLoop() {
	t := time.NewTicker(s.cfg.ConsumeQueueFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.flushAll(false); err != nil {
				s.log.Error("checkpoint failed", "err", err)
			}
		}
	}
}

// flushAll makes consume queues and index durable and records how far in
// the checkpoint. final also syncs the commit log (at Close).
func (s *Store) flushAll(final bool) error {
	// Every record below written has its consume-queue entry once the put
	// lock is free.
	s.putMu.Lock()
	cqTo := s.cl.written.Load()
	s.putMu.Unlock()
	if final {
		if err := s.cl.syncTo(cqTo); err != nil {
			return err
		}
	}
	cp := checkpointData{Format: 1, CommitLogEnd: cqTo, ConsumeQueueOffset: cqTo}
	for _, cq := range s.queueList() {
		if err := cq.sync(); err != nil {
			return err
		}
		cp.Queues = append(cp.Queues, checkpointQueue{Topic: cq.topic, QueueID: cq.queueID, MaxOffset: cq.max.Load()})
	}
	if s.ix != nil {
		cp.IndexOffset = s.indexedTo.Load()
		if err := s.ix.Flush(); err != nil {
			return err
		}
	}
	return writeCheckpoint(s.checkpoint(), &cp)
}

// start launches the background goroutines; Close stops them.
func (s *Store) start() {
	s.wg.Go(s.flushLoop)
	s.wg.Go(s.checkpointLoop)
	s.wg.Go(s.indexLoop)
	s.wg.Go(s.retentionLoop)
	s.wg.Go(s.releaseLoop)
	s.wg.Go(s.warmLoop)
}
