package broker

import (
	"context"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// lockTable holds the queue locks of orderly consumers: per (group,
// queue) one client may consume at a time. A lock lives LockLease after its
// last renewal.
type lockTable struct {
	lease time.Duration

	mu    sync.Mutex
	locks map[lockKey]lockEntry
}

type lockKey struct {
	group string
	mq    protocol.MessageQueue
}

type lockEntry struct {
	clientID string
	renewed  time.Time
}

func newLockTable(lease time.Duration) *lockTable {
	return &lockTable{lease: lease, locks: map[lockKey]lockEntry{}}
}

// lock grants the queues that are free, expired or already the client's,
// and returns them.
func (t *lockTable) lock(group, clientID string, mqs []protocol.MessageQueue, now time.Time) []protocol.MessageQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ok []protocol.MessageQueue
	for _, mq := range mqs {
		k := lockKey{group, mq}
		e, held := t.locks[k]
		if held && e.clientID != clientID && now.Sub(e.renewed) <= t.lease {
			continue
		}
		t.locks[k] = lockEntry{clientID: clientID, renewed: now}
		ok = append(ok, mq)
	}
	return ok
}

// unlock releases the client's locks on the queues.
func (t *lockTable) unlock(group, clientID string, mqs []protocol.MessageQueue) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, mq := range mqs {
		k := lockKey{group, mq}
		if e, ok := t.locks[k]; ok && e.clientID == clientID {
			delete(t.locks, k)
		}
	}
}

// owner returns who holds a queue's lock, if anyone does.
func (t *lockTable) owner(group string, mq protocol.MessageQueue, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.locks[lockKey{group, mq}]
	if !ok || now.Sub(e.renewed) > t.lease {
		return "", false
	}
	return e.clientID, true
}

// handleLockBatch serves LOCK_BATCH_MQ (41).
func (b *Broker) handleLockBatch(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := protocol.UnmarshalLockBatchRequestBody(req.Body)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	locked := b.locks.lock(body.ConsumerGroup, body.ClientID, body.MQSet, time.Now())
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body, _ = (&protocol.LockBatchResponseBody{LockOKMQSet: locked}).Marshal()
	return resp
}

// handleUnlockBatch serves UNLOCK_BATCH_MQ (42).
func (b *Broker) handleUnlockBatch(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	body, err := protocol.UnmarshalUnlockBatchRequestBody(req.Body)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, err.Error())
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	return remoting.NewResponse(req, protocol.Success, "")
}
