package client

import (
	"context"
	"fmt"
	"time"
)

// queue returns an assigned queue (p.mu held).
func (p *PullConsumer) queue(q Queue) (*pulled, error) {
	if p.closed {
		return nil, ErrClosed
	}
	pl := p.queues[q]
	if pl == nil {
		return nil, fmt.Errorf("%s/%s/%d: %w", q.Topic, q.Broker, q.QueueID, ErrNotAssigned)
	}
	return pl, nil
}

// Seek makes the next Poll of q return messages from offset on; messages
// already prefetched are dropped. The offset must lie between the queue's
// oldest and next offsets.
func (p *PullConsumer) Seek(ctx context.Context, q Queue, offset int64) error {
	return p.seek(ctx, q, func(pq publishQueue) (int64, error) {
		lo, err := p.minOffset(ctx, pq)
		if err != nil {
			return 0, err
		}
		hi, err := p.maxOffset(ctx, pq)
		if err != nil {
			return 0, err
		}
		if offset < lo || offset > hi {
			return 0, fmt.Errorf("seek %s/%s/%d to %d: outside the queue's offsets [%d, %d]", q.Topic, q.Broker, q.QueueID, offset, lo, hi)
		}
		return offset, nil
	})
}

// SeekToBeginning moves q to its oldest message.
func (p *PullConsumer) SeekToBeginning(ctx context.Context, q Queue) error {
	return p.seek(ctx, q, func(pq publishQueue) (int64, error) { return p.minOffset(ctx, pq) })
}

// SeekToEnd moves q past its newest message: Poll returns only messages
// stored from now on.
func (p *PullConsumer) SeekToEnd(ctx context.Context, q Queue) error {
	return p.seek(ctx, q, func(pq publishQueue) (int64, error) { return p.maxOffset(ctx, pq) })
}

// SeekToTime moves q to its first message stored at or after t.
func (p *PullConsumer) SeekToTime(ctx context.Context, q Queue, t time.Time) error {
	return p.seek(ctx, q, func(pq publishQueue) (int64, error) { return p.offsetAt(ctx, pq, t) })
}

func (p *PullConsumer) seek(ctx context.Context, q Queue, target func(publishQueue) (int64, error)) error {
	p.mu.Lock()
	pl, err := p.queue(q)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	off, err := target(pl.q)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.queues[q] != pl {
		return fmt.Errorf("%s/%s/%d: %w (reassigned during the seek)", q.Topic, q.Broker, q.QueueID, ErrNotAssigned)
	}
	p.stopFetch(pl)
	pl.cache.reset(off)
	pl.known.Store(true)
	if p.started {
		p.startFetch(pl)
	}
	return nil
}

// Pause stops fetching the queues and hides their cached messages from
// Poll until Resume.
func (p *PullConsumer) Pause(queues ...Queue) error {
	return p.setPaused(true, queues)
}

// Resume undoes Pause.
func (p *PullConsumer) Resume(queues ...Queue) error {
	return p.setPaused(false, queues)
}

func (p *PullConsumer) setPaused(paused bool, queues []Queue) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range queues {
		if _, err := p.queue(q); err != nil {
			return err
		}
	}
	for _, q := range queues {
		pl := p.queues[q]
		if pl.paused == paused {
			continue
		}
		pl.paused = paused
		if paused {
			p.stopFetch(pl)
		} else if p.started {
			p.startFetch(pl)
		}
	}
	signal(p.ready)
	return nil
}

// Close stops every goroutine of the consumer; with auto-commit it first
// commits what Poll returned. A Poll waiting returns ErrClosed. It is
// idempotent.
func (p *PullConsumer) Close() error {
	p.mu.Lock()
	started, closed := p.started, p.closed
	p.closed = true
	p.mu.Unlock()
	if closed {
		return nil
	}
	if started {
		p.cancel()
		p.wg.Wait()
		if p.cfg.autoCommit > 0 {
			if err := p.flush(context.Background()); err != nil {
				p.cfg.logger.Warn("offset commit at close failed", "err", err)
			}
		}
	}
	return p.rc.Close()
}
