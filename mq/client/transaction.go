package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// TxState is the outcome of a local transaction.
type TxState int

const (
	// TxUnknown leaves the decision to a later check by the broker.
	TxUnknown TxState = iota
	TxCommit
	TxRollback
)

func (s TxState) code() int32 {
	switch s {
	case TxCommit:
		return protocol.TransactionCommit
	case TxRollback:
		return protocol.TransactionRoll
	}
	return protocol.TransactionNot
}

// TransactionListener runs a local transaction with a half message and
// answers the broker's later questions about undecided ones. Check may be
// called from several goroutines and must look the outcome up in durable
// state (the database), never in memory that a restart loses.
type TransactionListener interface {
	ExecuteLocal(ctx context.Context, m *Message) TxState
	Check(ctx context.Context, m *MessageExt) TxState
}

// TransactionProducer sends transactional messages: a half message,
// invisible to consumers, is stored first; the local transaction runs; its
// outcome commits or rolls the message back. Close stops it.
type TransactionProducer struct {
	*Producer
	l TransactionListener

	ctx  context.Context // cancelled by Close: stops the heartbeats
	stop context.CancelFunc
	wg   sync.WaitGroup
	mu   sync.Mutex
	// brokers the producer sent half messages to; heartbeats keep it known
	// there, so that their checks can reach it.
	brokers map[string]bool
}

// NewTransactionProducer returns a transactional producer of a group
// (WithGroup; the broker's checks go to live producers of that group).
func NewTransactionProducer(l TransactionListener, opts ...Option) (*TransactionProducer, error) {
	tp := &TransactionProducer{l: l, brokers: map[string]bool{}}
	tp.ctx, tp.stop = context.WithCancel(context.Background())
	p, err := newProducer(remoting.HandlerFunc(tp.serve), opts)
	if err != nil {
		tp.stop()
		return nil, err
	}
	tp.Producer = p
	tp.wg.Go(tp.heartbeatLoop)
	return tp, nil
}

// SendInTransaction stores m as a half message, runs the local
// transaction and ends the transaction with its outcome. opts choose the
// queue as for Send: the commit lands in the half message's queue, so ByKey
// orders transactional messages too.
func (tp *TransactionProducer) SendInTransaction(ctx context.Context, m *Message, opts ...SendOption) (*SendResult, TxState, error) {
	if m.DelayLevel > 0 {
		return nil, TxUnknown, errors.New("client: transactional messages cannot be delayed")
	}
	half := *m
	half.Properties = maps.Clone(m.Properties)
	if half.Properties == nil {
		half.Properties = map[string]string{}
	}
	half.Properties[protocol.PropertyTransactionPrepared] = "true"
	half.Properties[protocol.PropertyProducerGroup] = tp.cfg.group
	opts = append(slices.Clip(opts), func(o *sendOptions) { o.transactional = true })
	res, err := tp.send(ctx, []*Message{&half}, false, opts)
	if err != nil {
		return nil, TxUnknown, err
	}
	host, off, err := protocol.ParseOffsetMessageID(res.OffsetMsgID)
	if err != nil {
		return res, TxUnknown, fmt.Errorf("half message id: %w", err)
	}
	addr := host.String()
	tp.remember(ctx, addr)
	state := tp.l.ExecuteLocal(ctx, m)
	h := protocol.EndTransactionRequestHeader{
		ProducerGroup: tp.cfg.group, TranStateTableOffset: res.QueueOffset, CommitLogOffset: off,
		CommitOrRollback: state.code(), MsgID: res.MsgID, TransactionID: res.MsgID,
	}
	if state != TxUnknown {
		ectx, cancel := context.WithTimeout(ctx, tp.cfg.timeout)
		defer cancel()
		if err := tp.rc.InvokeOneway(ectx, addr, remoting.NewRequest(protocol.EndTransaction, h.Ext(), nil)); err != nil {
			return res, state, fmt.Errorf("end transaction (the broker will check back): %w", err)
		}
	}
	return res, state, nil
}

// serve answers CHECK_TRANSACTION_STATE from a broker.
func (tp *TransactionProducer) serve(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
	if req.Code != protocol.CheckTransactionState {
		return nil
	}
	h, err := protocol.DecodeCheckTransactionStateRequestHeader(req.ExtFields)
	if err != nil {
		tp.cfg.logger.Warn("bad transaction check", "err", err)
		return nil
	}
	m, err := decodeMessage(req.Body)
	if err != nil || m.Property(protocol.PropertyProducerGroup) != tp.cfg.group {
		tp.cfg.logger.Warn("transaction check for a message of another group or unreadable", "err", err)
		return nil
	}
	id := m.Property(protocol.PropertyUniqKey)
	state := tp.l.Check(ctx, &MessageExt{Message: m, MsgID: id})
	end := protocol.EndTransactionRequestHeader{
		ProducerGroup: tp.cfg.group, TranStateTableOffset: h.TranStateTableOffset, CommitLogOffset: h.CommitLogOffset,
		CommitOrRollback: state.code(), FromTransactionCheck: true, MsgID: id, TransactionID: id,
	}
	if err := c.InvokeOneway(ctx, remoting.NewRequest(protocol.EndTransaction, end.Ext(), nil)); err != nil {
		tp.cfg.logger.Warn("answer to a transaction check failed", "err", err)
	}
	return nil
}

// remember registers the producer with a broker it sends half messages
// to, at once the first time.
func (tp *TransactionProducer) remember(ctx context.Context, addr string) {
	tp.mu.Lock()
	known := tp.brokers[addr]
	tp.brokers[addr] = true
	tp.mu.Unlock()
	if !known {
		tp.heartbeat(ctx, addr)
	}
}

func (tp *TransactionProducer) heartbeat(ctx context.Context, addr string) {
	body, _ := (&protocol.HeartbeatData{ClientID: fmt.Sprintf("%s@tx@%p", localIPv4(), tp), ProducerDataSet: []protocol.ProducerData{{GroupName: tp.cfg.group}}}).Marshal()
	hctx, cancel := context.WithTimeout(ctx, tp.cfg.timeout)
	defer cancel()
	if _, err := tp.rc.Invoke(hctx, addr, remoting.NewRequest(protocol.HeartBeat, nil, body)); err != nil {
		tp.cfg.logger.Warn("producer heartbeat failed", "addr", addr, "err", err)
	}
}

// heartbeatLoop keeps the producer registered, at start and every 30 s,
// with every master broker the NameServers know, besides those it sent
// to: after a restart, a broker's checks of transactions left undecided
// by the previous process must find this one before it sends anything.
func (tp *TransactionProducer) heartbeatLoop() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	ctx := tp.ctx
	for {
		tp.mu.Lock()
		addrs := make(map[string]bool, len(tp.brokers))
		for a := range tp.brokers {
			addrs[a] = true
		}
		tp.mu.Unlock()
		for _, a := range tp.masters(ctx) {
			addrs[a] = true
		}
		for a := range addrs {
			tp.heartbeat(ctx, a)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// masters returns the master brokers a NameServer lists, or none if no
// NameServer answers (the next round tries again).
func (tp *TransactionProducer) masters(ctx context.Context) []string {
	resp, err := tp.routes.askNamesrv(ctx, remoting.NewRequest(protocol.GetBrokerClusterInfo, nil, nil))
	if err != nil {
		return nil
	}
	ci, err := protocol.UnmarshalClusterInfo(resp.Body)
	if err != nil {
		return nil
	}
	var out []string
	for _, bd := range ci.BrokerAddrTable {
		if a := bd.MasterAddr(); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Close stops the heartbeats and closes the producer. It is idempotent.
func (tp *TransactionProducer) Close() error {
	tp.stop()
	tp.wg.Wait()
	return tp.Producer.Close()
}
