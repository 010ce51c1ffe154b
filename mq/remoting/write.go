package remoting

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// Write queue limits (the defaults of connConfig's).
const (
	// queueSoftLimit is the queued bytes above which senders wait for the
	// writer (a frame is always admitted into an empty queue).
	queueSoftLimit = 4 << 20
	// queueHardLimit is the queued bytes above which a write that may not
	// wait (the reader's rejections) closes the connection instead.
	queueHardLimit = 64 << 20
	// maxSpareBuffer is the largest write buffer kept for reuse.
	maxSpareBuffer = 1 << 20
	// maxPooledHeader is the largest header scratch buffer kept for reuse.
	maxPooledHeader = 64 << 10
)

// errPeerNotReading closes a connection whose peer sends requests but does
// not read their responses.
var errPeerNotReading = errors.New("remoting: peer does not read its responses")

// writeQueue holds the frames waiting for a Conn's writer goroutine.
//
// Senders encode a frame's header outside any lock, then append prefix,
// header and body to buf under mu. The writer swaps buf for the buffer it
// wrote last time and writes everything in one call, so frames queued
// during a write leave together in the next one; no frame is copied twice
// and, once buffers have grown, nothing is allocated per frame.
type writeQueue struct {
	kick chan struct{} // capacity 1: buf became non-empty, or closing was set

	mu      sync.Mutex    // guards the fields below
	buf     []byte        // queued frames
	room    chan struct{} // closed when the writer takes buf; nil if nobody waits
	closing bool          // close the connection once buf is written
	closed  bool
	frames  int64 // frames queued, ever
	writes  int64 // write calls, ever
}

func (q *writeQueue) init() { q.kick = make(chan struct{}, 1) }

// stats returns the frames queued and the write calls made so far.
func (q *writeQueue) stats() (frames, writes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.frames, q.writes
}

func (q *writeQueue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// close drops what is queued and wakes the senders waiting for room.
func (q *writeQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.buf = nil
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
}

// headerPool holds scratch buffers for encoding headers outside the lock.
var headerPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// write encodes cmd and queues its frame. Unless force is set it waits
// while the queue is over its soft limit.
func (c *Conn) write(ctx context.Context, cmd *Command, force bool) error {
	sp := headerPool.Get().(*[]byte)
	hdr, err := appendHeader((*sp)[:0], cmd)
	if err == nil {
		var prefix [8]byte
		if prefix, err = framePrefix(len(hdr), len(cmd.Body), cmd.Serialize); err == nil {
			if n := 4 + len(hdr) + len(cmd.Body); n > c.cfg.maxFrame {
				err = fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, c.cfg.maxFrame)
			} else {
				err = c.enqueue(ctx, prefix[:], hdr, cmd.Body, force)
			}
		}
	}
	if cap(hdr) <= maxPooledHeader {
		*sp = hdr[:0]
		headerPool.Put(sp)
	}
	if err != nil {
		return c.errorf("write code "+strconv.Itoa(int(cmd.Code)), err)
	}
	return nil
}

func (c *Conn) enqueue(ctx context.Context, prefix, hdr, body []byte, force bool) error {
	q := &c.w
	n := len(prefix) + len(hdr) + len(body)
	q.mu.Lock()
	for !force && !q.closed && len(q.buf) > 0 && len(q.buf)+n > c.cfg.softLimit {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return ErrClosed
		}
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if queued := len(q.buf); force && queued > 0 && queued+n > c.cfg.hardLimit {
		q.mu.Unlock()
		c.closeWith(fmt.Errorf("%w: %d bytes queued", errPeerNotReading, queued))
		return ErrClosed
	}
	wasEmpty := len(q.buf) == 0
	q.buf = append(q.buf, prefix...)
	q.buf = append(q.buf, hdr...)
	q.buf = append(q.buf, body...)
	q.frames++
	q.mu.Unlock()
	if wasEmpty {
		q.wake()
	}
	return nil
}

// closeAfterFlush closes the connection once everything queued so far (and
// whatever is queued before the writer gets to it) is written.
func (c *Conn) closeAfterFlush() {
	c.w.mu.Lock()
	c.w.closing = true
	c.w.mu.Unlock()
	c.w.wake()
}

// writeLoop writes queued frames until the connection closes.
func (c *Conn) writeLoop() {
	q := &c.w
	var out []byte // the buffer being written; reused as the next queue
	for {
		select {
		case <-q.kick:
		case <-c.done:
			return
		}
		yielded := false
		for {
			if !yielded {
				// Let the goroutines about to queue a frame do so first:
				// under load this turns many small writes into one (in
				// BenchmarkRoundTrip/mode=parallel, 13 to 17 frames per
				// write instead of 1.4). With nothing else runnable it
				// returns at once.
				yielded = true
				runtime.Gosched()
			}
			if cap(out) > maxSpareBuffer {
				out = nil // do not keep a burst's buffer for ever
			}
			q.mu.Lock()
			out, q.buf = q.buf, out[:0]
			if q.room != nil {
				close(q.room)
				q.room = nil
			}
			closing := q.closing
			if len(out) > 0 {
				q.writes++
			}
			q.mu.Unlock()
			if len(out) == 0 {
				if closing {
					c.closeWith(nil)
					return
				}
				break
			}
			if _, err := c.nc.Write(out); err != nil {
				c.closeWith(c.readError(err))
				return
			}
		}
	}
}
