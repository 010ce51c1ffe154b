package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// Transactional messages
//
// A half message (sysFlag PREPARED) is stored in RMQ_SYS_TRANS_HALF_TOPIC
// queue 0 with its transaction bits cleared and its real topic and queue in
// REAL_TOPIC / REAL_QID, where no consumer looks. The send response carries
// the half record's commit-log offset (in msgId) and half-queue offset,
// which the producer echoes in END_TRANSACTION:
//
//   - commit: a copy goes to the real topic and queue (transaction bits
//     COMMIT, preparedTransactionOffset = the half record, properties as
//     stored, DELAY applied now), then the transaction is marked ended;
//   - rollback: the transaction is marked ended;
//   - unknown (0): ignored, the check loop will ask.
//
// A transaction is named by its half-queue offset, which never changes:
// half messages are not re-appended as Java does, so every check, every
// END_TRANSACTION and every mark refers to the one half record.
//
// # Durable state
//
// Two things survive a restart:
//
//   - The op log, RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0 (Java's op topic):
//     one record per event, body = the half-queue offset in decimal, tag
//     "d" when the transaction ended (commit, rollback, given up; Java
//     writes the same) or "c" when a check was sent, with the number of
//     checks so far in TRANSACTION_CHECK_TIMES. Replaying a record twice
//     changes nothing: "d" is a set insert, "c" a max.
//   - config/transaction.json, a snapshot written after each check round
//     and at shutdown: halfOffset, the half-queue offset up to which half
//     messages have been taken in; open, the undecided transactions below
//     it with their check counts; endedAhead, transactions at or above
//     halfOffset that ended before they were taken in; opOffset, the op
//     log offset from which records may be missing from the snapshot.
//
// At start the snapshot is loaded, the op log is replayed from opOffset
// and the half queue is taken in from halfOffset. Replay stays short: the
// snapshot is at most one check round old. opOffset is the op log's end
// when the snapshot is taken, lowered to the end seen when each
// transaction still being ended or checked was claimed, so that no op
// written by a claim that is still in flight is skipped.
//
// In memory, a transaction below halfOffset has ended iff it is not open;
// one at or above has ended iff it is in endedAhead. The check loop takes
// in new half messages (every second, or every TransactionCheckInterval if
// shorter): those already ended cost a map delete and are never read, the
// others are read once for their store time and CHECK_IMMUNITY_TIME_IN_SECONDS.
// So the state is the set of undecided transactions, whatever the history,
// and a check round costs the new half messages plus the open ones.
//
// # Checks
//
// Every TransactionCheckInterval, an open transaction whose half message
// was stored at least TransactionTimeout ago (CHECK_IMMUNITY_TIME_IN_SECONDS
// instead, when the producer set it; broker clock, not the producer's) is
// checked: CHECK_TRANSACTION_STATE (oneway) goes to the most recently seen
// live connection of its producer group PGROUP, with the half message as
// body, its topic and queue the real ones and TRANSACTION_CHECK_TIMES the
// count including this check. A check that reached a connection is
// counted ("c" record); with no connection the transaction waits for the
// next round, uncounted. Once TransactionCheckMax checks went unanswered,
// the half message is copied to TRANS_CHECK_MAX_TIME_TOPIC queue 0 and the
// transaction ends.
//
// # Concurrency
//
// END_TRANSACTION handlers and the check loop claim a transaction before
// acting on it and release it after: a claim serializes the two commits of
// a duplicate END_TRANSACTION (the second finds the transaction ended and
// answers success without a copy) and keeps a check from racing a commit.
// Claims are per transaction; txState.mu is held only for map updates,
// never across a store write or a network call.
//
// # Failures
//
// The committed copy is stored before the "d" mark: a crash between the two
// leaves the transaction open, and a check may commit it again (at least
// once, as in RocketMQ). Within one run a stored copy always marks the
// transaction ended in memory, so a duplicate END_TRANSACTION never copies
// twice. With ASYNC_FLUSH a power loss can take op records the snapshot
// already counts; the snapshot's offsets are then clamped to the queues'
// ends at start.

// Op log tags.
const (
	txOpEnded   = "d"
	txOpChecked = "c"
)

// txIngestEvery is how often new half messages are taken in between check
// rounds, which bounds endedAhead to about a second of END_TRANSACTIONs.
const txIngestEvery = time.Second

// txSendTimeout bounds writing one CHECK_TRANSACTION_STATE.
const txSendTimeout = 3 * time.Second

// txState is the transaction bookkeeping of a broker (Broker.tx). Create it
// with Broker.txState, which loads it once.
type txState struct {
	path string

	mu sync.Mutex // guards the fields below
	// next is the half-queue offset up to which half messages are taken in
	// (halfOffset in the file).
	next int64
	// open holds the undecided transactions below next, by half-queue offset.
	open map[int64]*openTx
	// endedAhead holds the transactions at or above next that have ended.
	endedAhead map[int64]struct{}
	// claims holds the transactions being ended or checked.
	claims map[int64]*txClaim
	// changes counts changes of next, open and endedAhead; saved is its
	// value, and savedOp the op offset, at the last snapshot.
	changes, saved uint64
	savedOp        int64
}

// openTx is an undecided transaction.
type openTx struct {
	QueueOffset     int64 `json:"queueOffset"`
	CommitLogOffset int64 `json:"commitLogOffset"`
	// Due is when the first check may be sent (unix ms).
	Due int64 `json:"due"`
	// Checks counts the checks sent so far.
	Checks int `json:"checks"`
}

// txClaim is a transaction being worked on.
type txClaim struct {
	released chan struct{}
	// opFloor is the op log's end when the claim was taken: ops written
	// under the claim are at or above it.
	opFloor int64
}

// txFile is config/transaction.json.
type txFile struct {
	HalfOffset int64    `json:"halfOffset"`
	OpOffset   int64    `json:"opOffset"`
	Open       []openTx `json:"open"`
	EndedAhead []int64  `json:"endedAhead,omitempty"`
}

// txState returns the broker's transaction state, loading it on first use.
func (b *Broker) txState() *txState {
	b.txOnce.Do(func() { b.tx = b.loadTxState() })
	return b.tx
}

// loadTxState loads the snapshot, replays the op log written after it and
// takes in the half messages stored after it.
func (b *Broker) loadTxState() *txState {
	st := &txState{
		path:       filepath.Join(b.cfg.Store.Dir, "config", "transaction.json"),
		open:       map[int64]*openTx{},
		endedAhead: map[int64]struct{}{},
		claims:     map[int64]*txClaim{},
	}
	var f txFile
	if _, err := loadJSON(st.path, &f); err != nil {
		// Starting from nothing replays the whole op log and half queue:
		// slow, but it rebuilds the same state.
		b.log.Error("transaction state unreadable, rebuilding it from the op log and the half queue", "err", err)
		f = txFile{}
	}
	// After a power loss the store may end before what the snapshot saw.
	st.next = min(f.HalfOffset, b.store.MaxOffset(TopicTransHalf, 0))
	opFrom := min(f.OpOffset, b.store.MaxOffset(TopicTransOp, 0))
	for _, o := range f.Open {
		if o.QueueOffset < st.next {
			st.open[o.QueueOffset] = &o
		}
	}
	for _, q := range f.EndedAhead {
		st.endedAhead[q] = struct{}{}
	}
	checks := map[int64]int{}
	err := b.readOps(opFrom, func(q int64, tag string, n int) {
		switch tag {
		case txOpEnded:
			st.mu.Lock()
			st.endedLocked(q)
			st.mu.Unlock()
			delete(checks, q)
		case txOpChecked:
			checks[q] = max(checks[q], n)
		}
	})
	if err != nil {
		b.log.Error("transaction op log not fully replayed", "opOffset", opFrom, "err", err)
	}
	b.takeInHalf(st)
	for q, n := range checks {
		if o := st.open[q]; o != nil {
			o.Checks = max(o.Checks, n)
		}
	}
	st.saved, st.savedOp = st.changes, opFrom
	b.log.Info("transaction state loaded", "halfOffset", st.next, "open", len(st.open), "opOffset", opFrom)
	return st
}

// readOps calls fn for every op record from queue offset from on.
func (b *Broker) readOps(from int64, fn func(q int64, tag string, checks int)) error {
	off := max(from, b.store.MinOffset(TopicTransOp, 0))
	for {
		res, err := b.store.GetMessages(store.GetRequest{Topic: TopicTransOp, QueueID: 0, Offset: off, MaxCount: 1024, MaxBytes: 1 << 20})
		if err != nil {
			return err
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			return fmt.Errorf("op log at queue offset %d: %w", off, err)
		}
		for _, m := range msgs {
			tag := m.Property(protocol.PropertyTags)
			n, _ := strconv.Atoi(m.Property(protocol.PropertyTransactionCheckTimes))
			// Java 5 joins several offsets with commas in one record.
			for s := range strings.SplitSeq(string(m.Body), ",") {
				if q, err := strconv.ParseInt(s, 10, 64); err == nil {
					fn(q, tag, n)
				}
			}
		}
		if res.NextOffset <= off {
			return nil
		}
		off = res.NextOffset
	}
}

// takeInHalf adds the half messages stored since the last call: those not
// ended yet become open transactions.
func (b *Broker) takeInHalf(st *txState) {
	end := b.store.MaxOffset(TopicTransHalf, 0)
	st.mu.Lock()
	q := st.next
	if lo := b.store.MinOffset(TopicTransHalf, 0); q < lo {
		st.next, q = lo, lo // removed by retention
		st.changes++
	}
	st.mu.Unlock()
	for ; q < end; q++ {
		st.mu.Lock()
		_, ended := st.endedAhead[q]
		st.mu.Unlock()
		var m *protocol.Message
		if !ended {
			var err error
			m, err = b.store.MessageAtQueueOffset(TopicTransHalf, 0, q)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				b.log.Error("half message unreadable; transactions from it on are not checked until it is", "queueOffset", q, "err", err)
				return
			}
		}
		st.mu.Lock()
		if _, ended := st.endedAhead[q]; ended {
			delete(st.endedAhead, q)
		} else if m != nil {
			st.open[q] = &openTx{QueueOffset: q, CommitLogOffset: m.PhysicalOffset, Due: m.StoreTimestamp + b.checkAfter(m).Milliseconds()}
		}
		st.next = q + 1
		st.changes++
		st.mu.Unlock()
	}
}

// checkAfter is how old a half message must be before its first check.
func (b *Broker) checkAfter(m *protocol.Message) time.Duration {
	if s, err := strconv.Atoi(m.Property(protocol.PropertyCheckImmunitySeconds)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return b.cfg.TransactionTimeout
}

// endedLocked marks transaction q ended in memory. st.mu is held.
func (st *txState) endedLocked(q int64) {
	if q < st.next {
		delete(st.open, q)
	} else {
		st.endedAhead[q] = struct{}{}
	}
	st.changes++
}

// isEndedLocked reports whether transaction q has ended. st.mu is held.
func (st *txState) isEndedLocked(q int64) bool {
	if q < st.next {
		return st.open[q] == nil
	}
	_, ok := st.endedAhead[q]
	return ok
}

// claim waits until nobody else works on transaction q and claims it,
// unless it has ended (ended true, nothing claimed).
func (st *txState) claim(ctx context.Context, q int64, opEnd func() int64) (ended bool, err error) {
	for {
		st.mu.Lock()
		c := st.claims[q]
		if c == nil {
			if st.isEndedLocked(q) {
				st.mu.Unlock()
				return true, nil
			}
			st.claims[q] = &txClaim{released: make(chan struct{}), opFloor: opEnd()}
			st.mu.Unlock()
			return false, nil
		}
		st.mu.Unlock()
		select {
		case <-c.released:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// tryClaim claims transaction q if it is open and nobody works on it.
func (st *txState) tryClaim(q int64, opEnd func() int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.claims[q] != nil || st.isEndedLocked(q) {
		return false
	}
	st.claims[q] = &txClaim{released: make(chan struct{}), opFloor: opEnd()}
	return true
}

// release ends a claim; ended marks the transaction ended.
func (st *txState) release(q int64, ended bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ended {
		st.endedLocked(q)
	}
	if c := st.claims[q]; c != nil {
		close(c.released)
		delete(st.claims, q)
	}
}

// opEnd is the op log's end (next queue offset).
func (b *Broker) opEnd() int64 { return b.store.MaxOffset(TopicTransOp, 0) }

// routeTransactions registers END_TRANSACTION.
func (b *Broker) routeTransactions(mux *remoting.Mux) {
	mux.HandleFunc(protocol.EndTransaction, b.handleEndTransaction)
}

// toHalfTopic turns a PREPARED message into a half message: stored in the
// half topic's queue 0, its real topic and queue in properties, its
// transaction bits cleared. A DELAY stays in the properties; it applies to
// the committed copy.
func (b *Broker) toHalfTopic(m *protocol.Message) {
	b.ensureSystemTopic(TopicTransHalf)
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealTopic, m.Topic)
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.SysFlag &^= protocol.TransactionMask
	m.Topic, m.QueueID = TopicTransHalf, 0
}

// ensureSystemTopic creates a one-queue read-write system topic unless it
// exists. Failing to save the topic table does not stop the store from
// taking the message, so the error is only logged.
func (b *Broker) ensureSystemTopic(name string) {
	if _, ok := b.topics.get(name); ok {
		return
	}
	if _, err := b.topics.putIfAbsent(newTopicConfig(name, 1, protocol.PermRead|protocol.PermWrite)); err != nil {
		b.log.Error("system topic not saved", "topic", name, "err", err)
	}
}

// handleEndTransaction serves END_TRANSACTION (37).
func (b *Broker) handleEndTransaction(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeEndTransactionRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	switch h.CommitOrRollback {
	case protocol.TransactionNot:
		return nil // unknown yet: Java does not answer; the check loop will ask
	case protocol.TransactionCommit, protocol.TransactionRoll:
	default:
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("commitOrRollback %d: want 8 (commit), 12 (rollback) or 0 (unknown)", h.CommitOrRollback))
	}
	half, err := b.store.Message(h.CommitLogOffset)
	if err != nil || half.Topic != TopicTransHalf {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("Find prepared transaction message failed: no half message at commitLogOffset %d", h.CommitLogOffset))
	}
	if g := half.Property(protocol.PropertyProducerGroup); g != h.ProducerGroup {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("the producer group %q is not the half message's %q", h.ProducerGroup, g))
	}
	if half.QueueOffset != h.TranStateTableOffset {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("tranStateTableOffset %d is not the half message's queue offset %d (commitLogOffset %d)", h.TranStateTableOffset, half.QueueOffset, h.CommitLogOffset))
	}
	st := b.txState()
	q := half.QueueOffset
	ended, err := st.claim(ctx, q, b.opEnd)
	if err != nil {
		return remoting.NewResponse(req, protocol.SystemError, "END_TRANSACTION interrupted: "+err.Error())
	}
	if ended {
		return remoting.NewResponse(req, protocol.Success, "") // decided before
	}
	if h.CommitOrRollback == protocol.TransactionCommit {
		if code, remark := b.commitHalf(ctx, half); code != protocol.Success {
			st.release(q, false)
			return remoting.NewResponse(req, code, remark)
		}
	}
	err = b.putTxOp(ctx, txOpEnded, q, 0)
	// A stored copy ends the transaction whatever happens to its mark:
	// a second commit must not copy again.
	st.release(q, err == nil || h.CommitOrRollback == protocol.TransactionCommit)
	if err != nil {
		b.log.Error("transaction end not recorded; it may be checked again after a restart", "queueOffset", q, "err", err)
		code, remark := storeErrorCode(err)
		return remoting.NewResponse(req, code, "the transaction end was not recorded: "+remark)
	}
	return remoting.NewResponse(req, protocol.Success, "")
}

// commitHalf stores the committed copy of a half message in its real topic
// and queue, or the schedule topic if it has a DELAY.
func (b *Broker) commitHalf(ctx context.Context, half *protocol.Message) (int16, string) {
	m, err := realMessage(half)
	if err != nil {
		return protocol.SystemError, err.Error()
	}
	m.SysFlag = m.SysFlag&^protocol.TransactionMask | protocol.TransactionCommit
	m.PreparedTransactionOffset = half.PhysicalOffset
	m.QueueOffset, m.PhysicalOffset, m.StoreTimestamp = 0, 0, 0
	if code, remark := b.rerouteSpecial(m); code != protocol.Success {
		// The half message was stored without looking at DELAY: deliver
		// at once rather than never.
		b.log.Warn("committed message has a bad DELAY, delivered without delay", "topic", m.Topic, "remark", remark)
		m.Properties = protocol.DeleteProperty(m.Properties, protocol.PropertyDelayLevel)
	}
	if _, err := b.putInternal(ctx, m); err != nil {
		return storeErrorCode(err)
	}
	return protocol.Success, ""
}

// realMessage copies a half message with its real topic and queue.
func realMessage(half *protocol.Message) (*protocol.Message, error) {
	m := *half
	m.Topic = half.Property(protocol.PropertyRealTopic)
	qid, err := strconv.ParseInt(half.Property(protocol.PropertyRealQueueID), 10, 32)
	if m.Topic == "" || err != nil {
		return nil, fmt.Errorf("half message at commitLogOffset %d has no valid REAL_TOPIC/REAL_QID", half.PhysicalOffset)
	}
	m.QueueID = int32(qid)
	return &m, nil
}

// putTxOp appends an op record for transaction q.
func (b *Broker) putTxOp(ctx context.Context, tag string, q int64, checks int) error {
	b.ensureSystemTopic(TopicTransOp)
	props := protocol.SetProperty("", protocol.PropertyTags, tag)
	if tag == txOpChecked {
		props = protocol.SetProperty(props, protocol.PropertyTransactionCheckTimes, strconv.Itoa(checks))
	}
	op := &protocol.Message{
		Topic: TopicTransOp, Body: strconv.AppendInt(nil, q, 10), Properties: props,
		BornTimestamp: time.Now().UnixMilli(), BornHost: b.addrPort(),
	}
	_, err := b.putInternal(ctx, op)
	return err
}

// transactionCheckLoop takes in half messages and checks undecided ones
// every TransactionCheckInterval, until the broker stops.
func (b *Broker) transactionCheckLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-b.stop:
			cancel()
		case <-ctx.Done():
		}
	})

	st := b.txState()
	check := time.NewTicker(b.cfg.TransactionCheckInterval)
	defer check.Stop()
	var takeIn <-chan time.Time
	if b.cfg.TransactionCheckInterval > txIngestEvery {
		t := time.NewTicker(txIngestEvery)
		defer t.Stop()
		takeIn = t.C
	}
	for {
		select {
		case <-b.stop:
			b.saveTxState(st)
			return
		case <-takeIn:
			b.takeInHalf(st)
		case <-check.C:
			b.takeInHalf(st)
			b.checkTransactions(ctx, st, time.Now())
			b.saveTxState(st)
		}
	}
}

// checkTransactions runs one check round over the open transactions that
// are due.
func (b *Broker) checkTransactions(ctx context.Context, st *txState, now time.Time) {
	st.mu.Lock()
	var due []openTx
	for _, o := range st.open {
		if o.Due <= now.UnixMilli() {
			due = append(due, *o)
		}
	}
	st.mu.Unlock()
	slices.SortFunc(due, func(a, b openTx) int { return cmp.Compare(a.QueueOffset, b.QueueOffset) })
	for _, o := range due {
		if ctx.Err() != nil {
			return
		}
		if !st.tryClaim(o.QueueOffset, b.opEnd) {
			continue // being ended, or ended since
		}
		st.release(o.QueueOffset, b.checkOne(ctx, st, o))
	}
}

// checkOne checks one open transaction, or gives it up after the maximum
// number of checks. It reports whether the transaction ended.
func (b *Broker) checkOne(ctx context.Context, st *txState, o openTx) (ended bool) {
	half, err := b.store.Message(o.CommitLogOffset)
	if errors.Is(err, store.ErrNotFound) {
		b.log.Warn("half message removed before its transaction ended", "queueOffset", o.QueueOffset, "offset", o.CommitLogOffset)
		return true
	}
	if err != nil {
		b.log.Error("half message unreadable", "queueOffset", o.QueueOffset, "offset", o.CommitLogOffset, "err", err)
		return false
	}
	group := half.Property(protocol.PropertyProducerGroup)
	if o.Checks >= b.cfg.TransactionCheckMax {
		return b.giveUp(ctx, half, o)
	}
	conns := b.clients.producerConns(group)
	if len(conns) == 0 {
		return false // nobody to ask: not counted
	}
	n := o.Checks + 1
	req, err := b.checkRequest(half, n)
	if err != nil {
		b.log.Error("transaction check not built", "group", group, "queueOffset", o.QueueOffset, "err", err)
		return false
	}
	sent := false
	for _, cc := range conns {
		sctx, cancel := context.WithTimeout(ctx, txSendTimeout)
		err := cc.conn.InvokeOneway(sctx, req)
		cancel()
		if err == nil {
			sent = true
			break
		}
		b.log.Debug("transaction check not sent", "group", group, "clientId", cc.clientID, "err", err)
	}
	if !sent {
		return false
	}
	if err := b.putTxOp(ctx, txOpChecked, o.QueueOffset, n); err != nil {
		b.log.Error("transaction check not recorded; it will not count after a restart", "queueOffset", o.QueueOffset, "err", err)
	}
	st.mu.Lock()
	if e := st.open[o.QueueOffset]; e != nil {
		e.Checks = n
		st.changes++
	}
	st.mu.Unlock()
	return false
}

// checkRequest builds CHECK_TRANSACTION_STATE for a half message's n-th
// check: the header names the half record, the body is the half message as
// stored but with its real topic and queue and the check count.
func (b *Broker) checkRequest(half *protocol.Message, n int) (*remoting.Command, error) {
	m, err := realMessage(half)
	if err != nil {
		return nil, err
	}
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyTransactionCheckTimes, strconv.Itoa(n))
	if err := m.Validate(); err != nil {
		return nil, err
	}
	id := half.Property(protocol.PropertyUniqKey)
	h := protocol.CheckTransactionStateRequestHeader{
		TranStateTableOffset: half.QueueOffset,
		CommitLogOffset:      half.PhysicalOffset,
		MsgID:                id,
		TransactionID:        id,
		OffsetMsgID:          protocol.OffsetMessageID(b.addrPort(), half.PhysicalOffset),
	}
	return remoting.NewRequest(protocol.CheckTransactionState, h.Ext(), m.AppendEncode(nil)), nil
}

// giveUp moves a half message checked TransactionCheckMax times to
// TRANS_CHECK_MAX_TIME_TOPIC and ends its transaction.
func (b *Broker) giveUp(ctx context.Context, half *protocol.Message, o openTx) (ended bool) {
	b.ensureSystemTopic(TopicTransMaxTime)
	m := *half
	m.Topic, m.QueueID = TopicTransMaxTime, 0
	m.QueueOffset, m.PhysicalOffset, m.StoreTimestamp = 0, 0, 0
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyTransactionCheckTimes, strconv.Itoa(o.Checks))
	if _, err := b.putInternal(ctx, &m); err != nil {
		b.log.Error("half message not moved to "+TopicTransMaxTime, "queueOffset", o.QueueOffset, "err", err)
		return false
	}
	if err := b.putTxOp(ctx, txOpEnded, o.QueueOffset, 0); err != nil {
		b.log.Error("transaction end not recorded; it may be given up again after a restart", "queueOffset", o.QueueOffset, "err", err)
	}
	b.log.Warn("transaction given up after the maximum checks", "group", half.Property(protocol.PropertyProducerGroup),
		"topic", m.Property(protocol.PropertyRealTopic), "queueOffset", o.QueueOffset, "checks", o.Checks)
	return true
}

// saveTxState writes the snapshot if anything changed since the last one.
func (b *Broker) saveTxState(st *txState) {
	st.mu.Lock()
	opOffset := b.opEnd()
	for _, c := range st.claims {
		opOffset = min(opOffset, c.opFloor)
	}
	if st.changes == st.saved && opOffset == st.savedOp {
		st.mu.Unlock()
		return
	}
	f := txFile{HalfOffset: st.next, OpOffset: opOffset, Open: make([]openTx, 0, len(st.open))}
	for _, o := range st.open {
		f.Open = append(f.Open, *o)
	}
	f.EndedAhead = slices.Sorted(maps.Keys(st.endedAhead))
	changes := st.changes
	st.mu.Unlock()
	slices.SortFunc(f.Open, func(a, b openTx) int { return cmp.Compare(a.QueueOffset, b.QueueOffset) })
	if err := saveJSON(st.path, f); err != nil {
		b.log.Error("transaction state not saved", "err", err)
		return
	}
	st.mu.Lock()
	st.saved, st.savedOp = changes, opOffset
	st.mu.Unlock()
}
