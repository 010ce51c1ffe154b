package compat_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/surge-mq/surge/mq/broker"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/mqtest"
)

// quickChecks makes the broker check back undecided transactions soon.
var quickChecks = mqtest.WithBrokerConfig(func(cfg *broker.Config) {
	cfg.TransactionTimeout = 500 * time.Millisecond
	cfg.TransactionCheckInterval = 200 * time.Millisecond
})

// txBodies are the transactions both cross tests send: ended at once with
// a commit or a rollback, or left unknown and committed by the check-back.
// txCommitted is what a consumer must receive, each exactly once.
var (
	txBodies    = []string{"commit-1", "rollback-1", "unknown-1", "commit-2", "rollback-2", "unknown-2"}
	txCommitted = map[string]int{"commit-1": 1, "unknown-1": 1, "commit-2": 1, "unknown-2": 1}
)

// txOutcome is what a local transaction with body decides at once.
func txOutcome(body string) string {
	kind, _, _ := strings.Cut(body, "-")
	return kind
}

// checkBacks counts check-backs per body; the check-back commits unknown
// transactions and rolls back anything else.
type checkBacks struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *checkBacks) check(body string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[body]++
	return txOutcome(body) == "unknown"
}

// verify fails the test unless exactly the unknown transactions were
// checked back.
func (c *checkBacks) verify(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, body := range txBodies {
		if checked := c.n[body] > 0; checked != (txOutcome(body) == "unknown") {
			t.Errorf("transaction %q checked back %d times", body, c.n[body])
		}
	}
}

// officialTxListener answers the official TransactionProducer.
type officialTxListener struct{ checks checkBacks }

func (l *officialTxListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch txOutcome(string(m.Body)) {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *officialTxListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	if l.checks.check(string(m.Body)) {
		return primitive.CommitMessageState
	}
	return primitive.RollbackMessageState
}

// surgeTxListener answers Surge's TransactionProducer.
type surgeTxListener struct{ checks checkBacks }

func (l *surgeTxListener) ExecuteLocal(_ context.Context, m *client.Message) client.TxState {
	return surgeTxState(string(m.Body))
}

func surgeTxState(body string) client.TxState {
	switch txOutcome(body) {
	case "commit":
		return client.TxCommit
	case "rollback":
		return client.TxRollback
	}
	return client.TxUnknown
}

func (l *surgeTxListener) Check(_ context.Context, m *client.MessageExt) client.TxState {
	if l.checks.check(string(m.Body)) {
		return client.TxCommit
	}
	return client.TxRollback
}

// verifyTx waits until every unknown transaction was checked back and one
// more check round passed (a rollback wrongly committed by a check would
// arrive by then), then fails the test unless the consumer received
// exactly the committed transactions, once each, the topic holds nothing
// else, and only the unknown transactions were checked back.
func verifyTx(t *testing.T, c *mqtest.Cluster, topic string, queues int, checks *checkBacks, delivered func() map[string]int) {
	t.Helper()
	waitUntil(t, 10*time.Second, "check-backs of the unknown transactions", func() bool {
		checks.mu.Lock()
		defer checks.mu.Unlock()
		return checks.n["unknown-1"] > 0 && checks.n["unknown-2"] > 0
	})
	time.Sleep(500 * time.Millisecond)
	if got := delivered(); !maps.Equal(got, txCommitted) {
		t.Errorf("delivered %v, want %v", got, txCommitted)
	}
	if n := storedMessages(c, topic, queues); n != int64(len(txCommitted)) {
		t.Errorf("%s holds %d messages, want the %d committed ones", topic, n, len(txCommitted))
	}
	checks.verify(t)
}

// TestCrossTxOfficialProducerSurgeConsumer: of the official
// TransactionProducer's transactions, Surge's consumer receives exactly the
// committed ones, those the check-back committed included.
func TestCrossTxOfficialProducerSurgeConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t, quickChecks)
	createTopic(t, c, "CrossTxIn", 2)
	l := &officialTxListener{}
	tp, err := producer.NewTransactionProducer(l, producer.WithNameServer([]string{c.NamesrvAddr}),
		producer.WithGroupName("cross-tx-in-pg"), producer.WithInstanceName(newInstanceName()))
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Shutdown() })
	in := &surgeInbox{}
	startSurgeConsumer(t, c, "cg-cross-tx-in", "CrossTxIn", "*", in.handle)
	for _, body := range txBodies {
		res, err := tp.SendMessageInTransaction(context.Background(), primitive.NewMessage("CrossTxIn", []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("%s: half message not stored: %v %v", body, res, err)
		}
	}
	in.waitCount(t, 20*time.Second, len(txCommitted))
	verifyTx(t, c, "CrossTxIn", 2, &l.checks, in.bodies)
}

// TestCrossTxSurgeProducerOfficialConsumer: of Surge's TransactionProducer's
// transactions, whose check-backs its listener answers, the official
// consumer receives exactly the committed ones.
func TestCrossTxSurgeProducerOfficialConsumer(t *testing.T) {
	t.Parallel()
	c := mqtestStart(t, quickChecks)
	createTopic(t, c, "CrossTxOut", 2)
	l := &surgeTxListener{}
	tp, err := client.NewTransactionProducer(l, client.WithNameServers(c.NamesrvAddr), client.WithGroup("cross-tx-out-pg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	in := newInbox()
	startPushConsumer(t, c, "cg-cross-tx-out", "CrossTxOut", all, in.callback(consumer.ConsumeSuccess))
	for _, body := range txBodies {
		_, state, err := tp.SendInTransaction(context.Background(), &client.Message{Topic: "CrossTxOut", Body: []byte(body)})
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if want := surgeTxState(body); state != want {
			t.Fatalf("%s: SendInTransaction reports %v, the listener said %v", body, state, want)
		}
	}
	in.waitFor(t, 20*time.Second, "the committed transactions", func(d []delivery) bool { return len(d) >= len(txCommitted) })
	verifyTx(t, c, "CrossTxOut", 2, &l.checks, in.bodies)
}
