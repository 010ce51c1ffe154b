package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
	"github.com/surge-mq/surge/mq/store"
)

// Transactional messages
//
// A half message (sysFlag PREPARED) is stored in RMQ_SYS_TRANS_HALF_TOPIC
// queue 0, with its real topic and queue in REAL_TOPIC / REAL_QID, out of
// consumers' sight. The send response gives the producer the half record's
// commit-log offset (in msgId) and half-queue offset, which it echoes in
// END_TRANSACTION:
//
//   - commit: a copy goes to the real topic and queue (sysFlag COMMIT,
//     preparedTransactionOffset = the half record), then the half message
//     is marked done;
//   - rollback: the half message is marked done.
//
// "Done" marks are records in RMQ_SYS_TRANS_OP_HALF_TOPIC whose body is the
// half-queue offset; the done set is rebuilt from them at start. The check
// loop walks the half queue from the first undecided message; one older
// than TransactionTimeout is checked with CHECK_TRANSACTION_STATE on a live
// connection of its producer group, at most TransactionCheckMax times,
// after which it moves to TRANS_CHECK_MAX_TIME_TOPIC. The walk position
// and the check counts are saved in config/transaction.json.

type txState struct {
	path string

	mu sync.Mutex // serializes END_TRANSACTION and the check loop
	// CheckOffset is the first half-queue offset not known done.
	CheckOffset int64 `json:"checkOffset"`
	// Checks counts the checks sent per half-queue offset.
	Checks map[int64]int `json:"checks"`
	done   map[int64]bool
}

func (b *Broker) txState() *txState {
	b.txOnce.Do(func() {
		st := &txState{path: filepath.Join(b.cfg.Store.Dir, "config", "transaction.json"), Checks: map[int64]int{}, done: map[int64]bool{}}
		if _, err := loadJSON(st.path, st); err != nil {
			b.log.Error("transaction state unreadable, starting from the beginning of the half queue", "err", err)
		}
		if st.Checks == nil {
			st.Checks = map[int64]int{}
		}
		b.loadDone(st)
		b.tx = st
	})
	return b.tx
}

// loadDone rebuilds the done set from the op topic.
func (b *Broker) loadDone(st *txState) {
	off := b.store.MinOffset(TopicTransOp, 0)
	for {
		res, err := b.store.GetMessages(store.GetRequest{Topic: TopicTransOp, QueueID: 0, Offset: off, MaxCount: 256, MaxBytes: 1 << 20})
		if err != nil || res.Status != store.Found {
			return
		}
		msgs, _ := protocol.DecodeMessages(res.Body)
		for _, m := range msgs {
			if qo, err := strconv.ParseInt(string(m.Body), 10, 64); err == nil && qo >= st.CheckOffset {
				st.done[qo] = true
			}
		}
		off = res.NextOffset
	}
}

// routeTransactions registers END_TRANSACTION.
func (b *Broker) routeTransactions(mux *remoting.Mux) {
	mux.HandleFunc(protocol.EndTransaction, b.handleEndTransaction)
}

// toHalfTopic stores a half message out of consumers' sight.
func (b *Broker) toHalfTopic(m *protocol.Message) {
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealTopic, m.Topic)
	m.Properties = protocol.SetProperty(m.Properties, protocol.PropertyRealQueueID, strconv.Itoa(int(m.QueueID)))
	m.SysFlag &^= protocol.TransactionMask
	m.Topic, m.QueueID = TopicTransHalf, 0
}

func (b *Broker) ensureTxTopics() error {
	for _, t := range []string{TopicTransHalf, TopicTransOp, TopicTransMaxTime} {
		if _, err := b.topics.putIfAbsent(newTopicConfig(t, 1, protocol.PermRead|protocol.PermWrite)); err != nil {
			return err
		}
	}
	return nil
}

// handleEndTransaction serves END_TRANSACTION (37).
func (b *Broker) handleEndTransaction(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	h, err := protocol.DecodeEndTransactionRequestHeader(req.ExtFields)
	if err != nil {
		return badHeader(req, err)
	}
	if h.CommitOrRollback != protocol.TransactionCommit && h.CommitOrRollback != protocol.TransactionRoll {
		return nil // unknown: the check loop will ask later
	}
	half, err := b.store.Message(h.CommitLogOffset)
	if err != nil || half.Topic != TopicTransHalf {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("Find prepared transaction message failed: no half message at offset %d", h.CommitLogOffset))
	}
	if g := half.Property(protocol.PropertyProducerGroup); g != h.ProducerGroup {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("the producer group %q differs from the half message's %q", h.ProducerGroup, g))
	}
	if half.QueueOffset != h.TranStateTableOffset {
		return remoting.NewResponse(req, protocol.SystemError, fmt.Sprintf("the transaction state table offset %d differs from the half message's %d", h.TranStateTableOffset, half.QueueOffset))
	}
	st := b.txState()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done[half.QueueOffset] || half.QueueOffset < st.CheckOffset {
		return remoting.NewResponse(req, protocol.Success, "") // decided before
	}
	if h.CommitOrRollback == protocol.TransactionCommit {
		if code, remark := b.commitHalf(ctx, half); code != protocol.Success {
			return remoting.NewResponse(req, code, remark)
		}
	}
	if err := b.markDone(ctx, st, half.QueueOffset); err != nil {
		code, remark := storeErrorCode(err)
		return remoting.NewResponse(req, code, remark)
	}
	return remoting.NewResponse(req, protocol.Success, "")
}

// commitHalf stores the committed copy of a half message in its real
// topic and queue.
func (b *Broker) commitHalf(ctx context.Context, half *protocol.Message) (int16, string) {
	m := *half
	m.BodyCRC = 0
	m.Topic = half.Property(protocol.PropertyRealTopic)
	qid, err := strconv.Atoi(half.Property(protocol.PropertyRealQueueID))
	if m.Topic == "" || err != nil {
		return protocol.SystemError, "half message without REAL_TOPIC/REAL_QID"
	}
	m.QueueID = int32(qid)
	m.SysFlag = m.SysFlag&^protocol.TransactionMask | protocol.TransactionCommit
	m.PreparedTransactionOffset = half.PhysicalOffset
	m.Properties = protocol.DeleteProperty(m.Properties, protocol.PropertyTransactionCheckTimes)
	if code, remark := b.rerouteSpecial(&m); code != protocol.Success {
		return code, remark
	}
	if _, err := b.putInternal(ctx, &m); err != nil {
		return storeErrorCode(err)
	}
	return protocol.Success, ""
}

// markDone records that a half message is decided. st.mu is held.
func (b *Broker) markDone(ctx context.Context, st *txState, halfQO int64) error {
	op := &protocol.Message{
		Topic: TopicTransOp, Body: []byte(strconv.FormatInt(halfQO, 10)),
		Properties: protocol.SetProperty("", protocol.PropertyTags, "d"), BornTimestamp: time.Now().UnixMilli(),
		BornHost: b.addrPort(),
	}
	if _, err := b.putInternal(ctx, op); err != nil {
		return err
	}
	st.done[halfQO] = true
	delete(st.Checks, halfQO)
	return nil
}

// transactionCheckLoop checks undecided half messages every
// TransactionCheckInterval.
func (b *Broker) transactionCheckLoop() {
	if err := b.ensureTxTopics(); err != nil {
		b.log.Error("transaction topics not created", "err", err)
	}
	b.txState()
	t := time.NewTicker(b.cfg.TransactionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.checkTransactions(time.Now())
		}
	}
}

// checkTransactions runs one check round.
func (b *Broker) checkTransactions(now time.Time) {
	st := b.txState()
	st.mu.Lock()
	defer st.mu.Unlock()
	off := max(st.CheckOffset, b.store.MinOffset(TopicTransHalf, 0))
	advancing := true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		res, err := b.store.GetMessages(store.GetRequest{Topic: TopicTransHalf, QueueID: 0, Offset: off, MaxCount: 64, MaxBytes: 4 << 20})
		if err != nil || res.Status != store.Found {
			break
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			b.log.Error("half messages unreadable", "queueOffset", off, "err", err)
			break
		}
		for _, m := range msgs {
			qo := m.QueueOffset
			if !st.done[qo] && !b.checkOne(ctx, st, m, now) {
				advancing = false
			}
			if advancing && st.done[qo] {
				delete(st.done, qo)
				st.CheckOffset = qo + 1
			}
		}
		off = res.NextOffset
	}
	if err := saveJSON(st.path, st); err != nil {
		b.log.Error("transaction state not saved", "err", err)
	}
}

// checkOne checks one undecided half message; it reports whether the
// message is now decided (given up). st.mu is held.
func (b *Broker) checkOne(ctx context.Context, st *txState, m *protocol.Message, now time.Time) bool {
	timeout := b.cfg.TransactionTimeout
	if s, err := strconv.Atoi(m.Property(protocol.PropertyCheckImmunitySeconds)); err == nil && s > 0 {
		timeout = time.Duration(s) * time.Second
	}
	if now.Sub(time.UnixMilli(m.StoreTimestamp)) < timeout {
		return false
	}
	if st.Checks[m.QueueOffset] >= b.cfg.TransactionCheckMax {
		out := *m
		out.BodyCRC = 0
		out.Topic, out.QueueID = TopicTransMaxTime, 0
		if _, err := b.putInternal(ctx, &out); err == nil {
			if err := b.markDone(ctx, st, m.QueueOffset); err == nil {
				b.log.Warn("half message given up after the maximum checks", "group", m.Property(protocol.PropertyProducerGroup), "queueOffset", m.QueueOffset, "checks", b.cfg.TransactionCheckMax)
				return true
			}
		}
		return false
	}
	conns := b.clients.producerConns(m.Property(protocol.PropertyProducerGroup))
	if len(conns) == 0 {
		return false // nobody to ask this round; not counted
	}
	st.Checks[m.QueueOffset]++
	body := *m
	body.BodyCRC = 0
	body.Topic = m.Property(protocol.PropertyRealTopic)
	if q, err := strconv.Atoi(m.Property(protocol.PropertyRealQueueID)); err == nil {
		body.QueueID = int32(q)
	}
	body.Properties = protocol.SetProperty(m.Properties, protocol.PropertyTransactionCheckTimes, strconv.Itoa(st.Checks[m.QueueOffset]))
	id := m.Property(protocol.PropertyUniqKey)
	h := protocol.CheckTransactionStateRequestHeader{
		TranStateTableOffset: m.QueueOffset, CommitLogOffset: m.PhysicalOffset,
		MsgID: id, TransactionID: id, OffsetMsgID: protocol.OffsetMessageID(b.addrPort(), m.PhysicalOffset),
	}
	req := remoting.NewRequest(protocol.CheckTransactionState, h.Ext(), body.AppendEncode(nil))
	if err := conns[0].conn.InvokeOneway(ctx, req); err != nil {
		b.log.Warn("transaction check not sent", "group", m.Property(protocol.PropertyProducerGroup), "err", err)
	}
	return false
}
