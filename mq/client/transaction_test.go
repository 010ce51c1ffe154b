package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// ledger is a listener whose outcome depends on the body, with checks
// answered from a "database" map.
type ledger struct {
	mu     sync.Mutex
	db     map[string]client.TxState
	checks int
}

func (l *ledger) ExecuteLocal(ctx context.Context, m *client.Message) client.TxState {
	switch string(m.Body) {
	case "commit":
		return client.TxCommit
	case "rollback":
		return client.TxRollback
	}
	l.mu.Lock()
	l.db[string(m.Body)] = client.TxCommit // committed, but the answer gets lost
	l.mu.Unlock()
	return client.TxUnknown
}

func (l *ledger) Check(ctx context.Context, m *client.MessageExt) client.TxState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	return l.db[string(m.Body)]
}

func TestTransactionProducer(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.TransactionTimeout = 300 * time.Millisecond
		cfg.TransactionCheckInterval = 100 * time.Millisecond
	}))
	l := &ledger{db: map[string]client.TxState{}}
	tp, err := client.NewTransactionProducer(l, client.WithNameServers(c.NamesrvAddr), client.WithGroup("tx-group"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	for _, body := range []string{"commit", "rollback", "later"} {
		if _, _, err := tp.SendInTransaction(context.Background(), &client.Message{Topic: "Tx", Body: []byte(body)}); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	col := newCollector()
	newConsumer(t, c, "cg-tx", "Tx", "*", col.handle(nil))
	waitUntil(t, 15*time.Second, "commit and the checked-back message", func() bool { return col.count("commit") == 1 && col.count("later") == 1 })
	time.Sleep(300 * time.Millisecond)
	if col.count("rollback") != 0 || col.count("commit") != 1 || col.count("later") != 1 {
		t.Fatalf("delivered commit=%d rollback=%d later=%d", col.count("commit"), col.count("rollback"), col.count("later"))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.checks == 0 {
		t.Fatal("the broker never checked back")
	}
}

// TestTransactionByKey: with ByKey, every committed message of one key lands
// in the same queue, as ordered events of one order must.
func TestTransactionByKey(t *testing.T) {
	c := mqtest.Start(t)
	l := &ledger{db: map[string]client.TxState{}}
	tp, err := client.NewTransactionProducer(l, client.WithNameServers(c.NamesrvAddr), client.WithGroup("tx-key"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	queues := map[int32]bool{}
	for range 8 {
		res, state, err := tp.SendInTransaction(context.Background(), &client.Message{Topic: "TxKey", Body: []byte("commit")}, client.WithSelector(client.ByKey("order-42")))
		if err != nil || state != client.TxCommit {
			t.Fatalf("send: %v %v", state, err)
		}
		queues[res.Queue.QueueID] = true
	}
	if len(queues) != 1 {
		t.Fatalf("one key spread over queues %v", queues)
	}
}

// TestTransactionCheckAfterRestart: a transaction left undecided by a
// producer that went away is checked with its successor, which has sent
// nothing yet (it used to register with a broker only on its first send).
func TestTransactionCheckAfterRestart(t *testing.T) {
	c := mqtest.Start(t, mqtest.WithBrokerConfig(func(cfg *broker.Config) {
		cfg.TransactionTimeout = 300 * time.Millisecond
		cfg.TransactionCheckInterval = 100 * time.Millisecond
	}))
	first := &ledger{db: map[string]client.TxState{}}
	tp, err := client.NewTransactionProducer(first, client.WithNameServers(c.NamesrvAddr), client.WithGroup("tx-restart"))
	if err != nil {
		t.Fatal(err)
	}
	if _, state, err := tp.SendInTransaction(context.Background(), &client.Message{Topic: "TxRestart", Body: []byte("undecided")}); err != nil || state != client.TxUnknown {
		t.Fatalf("send: %v %v", state, err)
	}
	tp.Close()

	second := &ledger{db: map[string]client.TxState{"undecided": client.TxCommit}}
	tp2, err := client.NewTransactionProducer(second, client.WithNameServers(c.NamesrvAddr), client.WithGroup("tx-restart"))
	if err != nil {
		t.Fatal(err)
	}
	defer tp2.Close()
	col := newCollector()
	newConsumer(t, c, "cg-tx-restart", "TxRestart", "*", col.handle(nil))
	waitUntil(t, 15*time.Second, "the transaction committed by the successor's check", func() bool { return col.count("undecided") == 1 })
}
