package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// Transaction timings for tests: a check round every 50 ms, the first
// check 150 ms after the half message was stored, three checks at most.
const (
	testTxTimeout  = 150 * time.Millisecond
	testTxInterval = 50 * time.Millisecond
	testTxMax      = 3
)

func fastTx(c *Config) {
	c.TransactionTimeout = testTxTimeout
	c.TransactionCheckInterval = testTxInterval
	c.TransactionCheckMax = testTxMax
}

// sentHalf is a half message as its producer knows it.
type sentHalf struct {
	end   protocol.EndTransactionRequestHeader // refers to the half message
	msgID string                               // the send response's offset message ID
	at    time.Time
}

// sendHalf sends a transactional half message of producer group tpg, as the
// Go client does (sysFlag 4, TRAN_MSG, PGROUP, UNIQ_KEY "TX-<body>").
func (tb *testBroker) sendHalf(t *testing.T, topic string, qid int32, body string, props map[string]string) sentHalf {
	t.Helper()
	p := map[string]string{"TRAN_MSG": "true", "PGROUP": "tpg", "UNIQ_KEY": "TX-" + body}
	for k, v := range props {
		p[k] = v
	}
	h := protocol.SendMessageHeader{
		ProducerGroup: "tpg", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4, QueueID: qid,
		SysFlag: protocol.TransactionPrep, BornTimestamp: time.Now().UnixMilli(), Properties: protocol.MarshalProperties(p),
	}
	at := time.Now()
	resp := tb.call(t, protocol.SendMessage, h.Ext(), []byte(body))
	if resp.Code != protocol.Success {
		t.Fatalf("half send: %d %q", resp.Code, resp.Remark)
	}
	_, phy, err := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	if err != nil {
		t.Fatal(err)
	}
	qo, err := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Ext("queueId") != strconv.Itoa(int(qid)) {
		t.Fatalf("half send answered queueId %q, want the requested %d", resp.Ext("queueId"), qid)
	}
	return sentHalf{
		end:   protocol.EndTransactionRequestHeader{ProducerGroup: "tpg", TranStateTableOffset: qo, CommitLogOffset: phy, MsgID: "TX-" + body},
		msgID: resp.Ext("msgId"),
		at:    at,
	}
}

// end sends END_TRANSACTION with a decision.
func (tb *testBroker) end(t *testing.T, h protocol.EndTransactionRequestHeader, decision int32) *remoting.Command {
	t.Helper()
	h.CommitOrRollback = decision
	return tb.call(t, protocol.EndTransaction, h.Ext(), nil)
}

// mustEnd sends END_TRANSACTION and wants success.
func (tb *testBroker) mustEnd(t *testing.T, h protocol.EndTransactionRequestHeader, decision int32) {
	t.Helper()
	if r := tb.end(t, h, decision); r.Code != protocol.Success {
		t.Fatalf("END_TRANSACTION %d: %d %q", decision, r.Code, r.Remark)
	}
}

// queue reads every stored message of a queue.
func (tb *testBroker) queue(t *testing.T, topic string, qid int32) []*protocol.Message {
	t.Helper()
	return storedMessages(t, tb.Store(), topic, qid)
}

// txProducer is a producer connection of group tpg that receives
// CHECK_TRANSACTION_STATE, as a transaction producer of the Go client does.
type txProducer struct {
	client *remoting.Client
	checks chan *remoting.Command
}

func newTxProducer(t *testing.T, tb *testBroker) *txProducer {
	t.Helper()
	p := &txProducer{checks: make(chan *remoting.Command, 64)}
	p.client = remoting.NewClient(remoting.ClientConfig{Handler: remoting.HandlerFunc(
		func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
			if req.Code == protocol.CheckTransactionState {
				select {
				case p.checks <- req:
				case <-ctx.Done():
				}
			}
			return nil // the Go client answers a check with END_TRANSACTION, not a response
		})})
	t.Cleanup(func() { p.client.Close() })
	hb, err := (&protocol.HeartbeatData{ClientID: "127.0.0.1@tx", ProducerDataSet: []protocol.ProducerData{{GroupName: "tpg"}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.client.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.HeartBeat, nil, hb))
	if err != nil || resp.Code != protocol.Success {
		t.Fatalf("producer heartbeat: %v %v", resp, err)
	}
	return p
}

// check is one CHECK_TRANSACTION_STATE received.
type check struct {
	req    *remoting.Command
	header protocol.CheckTransactionStateRequestHeader
	msg    *protocol.Message
	times  int
}

func (p *txProducer) nextCheck(t *testing.T, within time.Duration) check {
	t.Helper()
	select {
	case req := <-p.checks:
		h, err := protocol.DecodeCheckTransactionStateRequestHeader(req.ExtFields)
		if err != nil {
			t.Fatalf("check header: %v", err)
		}
		msgs, err := protocol.DecodeMessages(req.Body)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("check body: %d records, %v", len(msgs), err)
		}
		m := msgs[0]
		if protocol.BodyChecksum(m.Body) != m.BodyCRC {
			t.Fatal("check body: BODYCRC does not match the body")
		}
		n, _ := strconv.Atoi(m.Property(protocol.PropertyTransactionCheckTimes))
		return check{req: req, header: h, msg: m, times: n}
	case <-time.After(within):
		t.Fatalf("no CHECK_TRANSACTION_STATE within %v", within)
		return check{}
	}
}

// noCheck asserts that no check arrives for a while.
func (p *txProducer) noCheck(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case req := <-p.checks:
		t.Fatalf("unexpected check %v", req.ExtFields)
	case <-time.After(d):
	}
}

func TestTransactionCommit(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, nil)
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	// Queue 2 as an ordered producer would pick it: the commit lands there.
	half := tb.sendHalf(t, "TX", 2, "commit-me", map[string]string{"KEYS": "k1"})
	for q := range int32(4) {
		if _, msgs := tb.pull(t, "g", "TX", q, 0, 0); len(msgs) != 0 {
			t.Fatalf("half message visible in TX/%d before commit", q)
		}
	}
	stored := tb.queue(t, TopicTransHalf, 0)
	if len(stored) != 1 || stored[0].SysFlag&protocol.TransactionMask != 0 || stored[0].Property("REAL_TOPIC") != "TX" || stored[0].Property("REAL_QID") != "2" {
		t.Fatalf("half topic holds %+v", stored)
	}
	if _, ok := tb.topics.get(TopicTransHalf); !ok {
		t.Fatal("half topic not created")
	}
	if stored[0].PhysicalOffset != half.end.CommitLogOffset || stored[0].QueueOffset != half.end.TranStateTableOffset {
		t.Fatalf("send response names %d/%d, half record is at %d/%d", half.end.CommitLogOffset, half.end.TranStateTableOffset, stored[0].PhysicalOffset, stored[0].QueueOffset)
	}

	tb.mustEnd(t, half.end, protocol.TransactionCommit)
	tb.mustEnd(t, half.end, protocol.TransactionCommit) // twice: still one copy
	tb.mustEnd(t, half.end, protocol.TransactionRoll)   // too late: the commit stands
	half.end.FromTransactionCheck = true                // as if answering a check
	tb.mustEnd(t, half.end, protocol.TransactionCommit) // ended: no copy
	_, msgs := tb.pull(t, "g", "TX", 2, 0, 0)
	if len(msgs) != 1 {
		t.Fatalf("TX/2 holds %d messages after commit, want 1", len(msgs))
	}
	m := msgs[0]
	if string(m.Body) != "commit-me" || m.SysFlag&protocol.TransactionMask != protocol.TransactionCommit ||
		m.PreparedTransactionOffset != half.end.CommitLogOffset || m.Topic != "TX" || m.QueueID != 2 {
		t.Fatalf("committed copy: %+v", m)
	}
	for k, want := range map[string]string{"TRAN_MSG": "true", "PGROUP": "tpg", "UNIQ_KEY": "TX-commit-me", "KEYS": "k1", "REAL_TOPIC": "TX"} {
		if got := m.Property(k); got != want {
			t.Errorf("committed copy %s = %q, want %q", k, got, want)
		}
	}
	for q := range int32(4) {
		if n := tb.Store().MaxOffset("TX", q); n != map[int32]int64{2: 1}[q] {
			t.Errorf("TX/%d holds %d messages", q, n)
		}
	}
}

func TestTransactionRollback(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, fastTx)
	p := newTxProducer(t, tb)
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	half := tb.sendHalf(t, "TX", 0, "roll-me-back", nil)
	tb.mustEnd(t, half.end, protocol.TransactionRoll)
	tb.mustEnd(t, half.end, protocol.TransactionCommit) // ended: no copy
	// An ended transaction is never checked.
	p.noCheck(t, testTxTimeout+4*testTxInterval)
	if n := tb.Store().MaxOffset("TX", 0); n != 0 {
		t.Fatalf("rolled back message stored in TX: %d messages", n)
	}
}

func TestTransactionEndErrors(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, nil)
	half := tb.sendHalf(t, "TX", 1, "x", nil)
	plain := tb.send(t, "TX", 1, "plain", nil)
	_, plainPhy, err := protocol.ParseOffsetMessageID(plain.Ext("msgId"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(h *protocol.EndTransactionRequestHeader) int32
		remark string
	}{
		{"wrong producer group", func(h *protocol.EndTransactionRequestHeader) int32 {
			h.ProducerGroup = "other"
			return protocol.TransactionCommit
		}, "producer group"},
		{"wrong tranStateTableOffset", func(h *protocol.EndTransactionRequestHeader) int32 {
			h.TranStateTableOffset++
			return protocol.TransactionCommit
		}, "tranStateTableOffset"},
		{"commitLogOffset inside a record", func(h *protocol.EndTransactionRequestHeader) int32 {
			h.CommitLogOffset++
			return protocol.TransactionRoll
		}, "Find prepared transaction message failed"},
		{"commitLogOffset beyond the log", func(h *protocol.EndTransactionRequestHeader) int32 {
			h.CommitLogOffset = 1 << 40
			return protocol.TransactionCommit
		}, "Find prepared transaction message failed"},
		{"not a half message", func(h *protocol.EndTransactionRequestHeader) int32 {
			h.CommitLogOffset, h.TranStateTableOffset = plainPhy, 0
			return protocol.TransactionCommit
		}, "Find prepared transaction message failed"},
		{"bad decision", func(h *protocol.EndTransactionRequestHeader) int32 { return 4 }, "commitOrRollback 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := half.end
			d := tc.edit(&h)
			r := tb.end(t, h, d)
			if r.Code != protocol.SystemError || !strings.Contains(r.Remark, tc.remark) {
				t.Fatalf("got %d %q, want %d with %q", r.Code, r.Remark, protocol.SystemError, tc.remark)
			}
		})
	}
	t.Run("missing field", func(t *testing.T) {
		ext := half.end.Ext()
		delete(ext, "commitLogOffset")
		if r := tb.call(t, protocol.EndTransaction, ext, nil); r.Code != protocol.SystemError || !strings.Contains(r.Remark, "commitLogOffset") {
			t.Fatalf("got %d %q", r.Code, r.Remark)
		}
	})
	t.Run("unknown is not answered", func(t *testing.T) {
		h := half.end
		h.CommitOrRollback = protocol.TransactionNot
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if resp, err := tb.client.Invoke(ctx, tb.addr, remoting.NewRequest(protocol.EndTransaction, h.Ext(), nil)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("unknown answered: %v %v", resp, err)
		}
	})
	// None of the refused requests ended the transaction.
	tb.mustEnd(t, half.end, protocol.TransactionCommit)
	if n := tb.Store().MaxOffset("TX", 1); n != 2 {
		t.Fatalf("TX/1 holds %d messages, want plain + committed", n)
	}
}

// TestTransactionConcurrentCommits: END_TRANSACTIONs racing for one half
// message store one copy.
func TestTransactionConcurrentCommits(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, nil)
	half := tb.sendHalf(t, "TX", 0, "racy", nil)
	other := tb.sendHalf(t, "TX", 0, "other", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Go(func() {
			h := half.end
			if i%2 == 1 {
				h = other.end
			}
			h.CommitOrRollback = protocol.TransactionCommit
			resp, err := tb.client.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.EndTransaction, h.Ext(), nil))
			if err == nil && resp.Code != protocol.Success {
				err = errors.New(resp.Remark)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := map[string]int{}
	for _, m := range tb.queue(t, "TX", 0) {
		got[string(m.Body)]++
	}
	if got["racy"] != 1 || got["other"] != 1 || len(got) != 2 {
		t.Fatalf("committed copies %v, want one of each", got)
	}
}

// TestTransactionCheckBack: an undecided transaction is checked once it is
// TransactionTimeout old, with the half message under its real topic; a
// commit answering the check delivers it and stops the checks.
func TestTransactionCheckBack(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, fastTx)
	p := newTxProducer(t, tb)
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	ended := tb.sendHalf(t, "TX", 1, "ended-at-once", nil)
	tb.mustEnd(t, ended.end, protocol.TransactionCommit)
	half := tb.sendHalf(t, "TX", 3, "unknown", map[string]string{"TAGS": "tagA"})

	c := p.nextCheck(t, 5*time.Second)
	if early := testTxTimeout - time.Since(half.at); early > 0 {
		t.Errorf("first check %v before the transaction timeout", early)
	}
	wantHeader := protocol.CheckTransactionStateRequestHeader{
		TranStateTableOffset: half.end.TranStateTableOffset, CommitLogOffset: half.end.CommitLogOffset,
		MsgID: "TX-unknown", TransactionID: "TX-unknown", OffsetMsgID: half.msgID,
	}
	if c.header != wantHeader {
		t.Errorf("check header %+v, want %+v", c.header, wantHeader)
	}
	if !c.req.IsOneway() {
		t.Error("check not sent oneway")
	}
	m := c.msg
	if m.Topic != "TX" || m.QueueID != 3 || string(m.Body) != "unknown" || c.times != 1 ||
		m.Property("PGROUP") != "tpg" || m.Property("UNIQ_KEY") != "TX-unknown" || m.Property("TAGS") != "tagA" ||
		m.PhysicalOffset != half.end.CommitLogOffset || m.QueueOffset != half.end.TranStateTableOffset {
		t.Fatalf("check body: %+v (checks %d)", m, c.times)
	}
	// Unanswered: asked again next round.
	if c2 := p.nextCheck(t, 5*time.Second); c2.times != 2 || c2.header != wantHeader {
		t.Fatalf("second check: times %d header %+v", c2.times, c2.header)
	}
	end := protocol.EndTransactionRequestHeader{
		ProducerGroup: "tpg", TranStateTableOffset: c.header.TranStateTableOffset, CommitLogOffset: c.header.CommitLogOffset,
		FromTransactionCheck: true, MsgID: "TX-unknown", TransactionID: "TX-unknown",
	}
	tb.mustEnd(t, end, protocol.TransactionCommit)
	msgs := tb.waitMessages(t, "g", "TX", 3, 1, 5*time.Second)
	if string(msgs[0].Body) != "unknown" || msgs[0].SysFlag&protocol.TransactionMask != protocol.TransactionCommit {
		t.Fatalf("committed after check: %+v", msgs[0])
	}
	// A check may have been on its way while the commit was made.
	drain := time.After(2 * testTxInterval)
	for done := false; !done; {
		select {
		case <-p.checks:
		case <-drain:
			done = true
		}
	}
	p.noCheck(t, 4*testTxInterval)
}

// TestTransactionGiveUp: a transaction whose checks go unanswered is
// checked TransactionCheckMax times, then moved to TRANS_CHECK_MAX_TIME_TOPIC.
func TestTransactionGiveUp(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, fastTx)
	p := newTxProducer(t, tb)
	half := tb.sendHalf(t, "TX", 1, "forgotten", nil)
	for i := 1; i <= testTxMax; i++ {
		if c := p.nextCheck(t, 5*time.Second); c.times != i {
			t.Fatalf("check %d carries TRANSACTION_CHECK_TIMES %d", i, c.times)
		}
	}
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{TopicTransMaxTime: "*"})
	given := tb.waitMessages(t, "g", TopicTransMaxTime, 0, 1, 5*time.Second)
	if string(given[0].Body) != "forgotten" || given[0].Property("REAL_TOPIC") != "TX" || given[0].Property("PGROUP") != "tpg" {
		t.Fatalf("given-up message %+v", given[0])
	}
	p.noCheck(t, 4*testTxInterval)
	// Too late to commit: answered, not delivered.
	tb.mustEnd(t, half.end, protocol.TransactionCommit)
	if n := tb.Store().MaxOffset("TX", 1); n != 0 {
		t.Fatalf("given-up transaction committed: TX/1 holds %d", n)
	}
}

// TestTransactionNoProducer: rounds without a live producer connection do
// not count as checks.
func TestTransactionNoProducer(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, fastTx)
	tb.sendHalf(t, "TX", 0, "orphan", nil)
	time.Sleep(testTxTimeout + (testTxMax+3)*testTxInterval)
	if n := tb.Store().MaxOffset(TopicTransMaxTime, 0); n != 0 {
		t.Fatal("given up without a single check")
	}
	p := newTxProducer(t, tb)
	for i := 1; i <= testTxMax; i++ {
		if c := p.nextCheck(t, 5*time.Second); c.times != i {
			t.Fatalf("check %d carries TRANSACTION_CHECK_TIMES %d", i, c.times)
		}
	}
}

// TestTransactionCommitDelayed: DELAY is ignored while the message is half
// and applied to the committed copy.
func TestTransactionCommitDelayed(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	half := tb.sendHalf(t, "TX", 1, "later", map[string]string{"DELAY": "3"})
	if n := tb.Store().MaxOffset(TopicSchedule, 2); n != 0 {
		t.Fatal("half message scheduled before commit")
	}
	committedAt := time.Now().UnixMilli()
	tb.mustEnd(t, half.end, protocol.TransactionCommit)
	if n := tb.Store().MaxOffset(TopicSchedule, 2); n != 1 {
		t.Fatalf("committed copy not scheduled at level 3: %d", n)
	}
	msgs := tb.waitMessages(t, "g", "TX", 1, 1, 5*time.Second)
	m := msgs[0]
	if m.StoreTimestamp < committedAt+300 {
		t.Errorf("delivered %d ms after commit, want >= 300", m.StoreTimestamp-committedAt)
	}
	if string(m.Body) != "later" || m.SysFlag&protocol.TransactionMask != protocol.TransactionCommit || m.PreparedTransactionOffset != half.end.CommitLogOffset {
		t.Fatalf("delivered %+v", m)
	}
}

// TestTransactionRestart: ended transactions stay ended, open ones stay
// open with their check counts, across a restart: from the snapshot, and
// from the op log alone when the snapshot is lost.
func TestTransactionRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		loseSnapshot bool
	}{{"snapshot", false}, {"op log only", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			edit := func(c *Config) {
				fastTx(c)
				c.TransactionCheckMax = 10
				c.Store.Dir = dir
			}
			tb := startBroker(t, edit)
			p := newTxProducer(t, tb)
			committed := tb.sendHalf(t, "TX", 0, "committed", nil)
			rolledBack := tb.sendHalf(t, "TX", 0, "rolled-back", nil)
			open := tb.sendHalf(t, "TX", 0, "open", nil)
			tb.mustEnd(t, committed.end, protocol.TransactionCommit)
			tb.mustEnd(t, rolledBack.end, protocol.TransactionRoll)
			ended := time.Now()
			checked := 0
			for checked < 2 {
				c := p.nextCheck(t, 5*time.Second)
				if c.header.TranStateTableOffset != open.end.TranStateTableOffset {
					// On a slow machine a first check may leave before the
					// end arrives (the timeout is 150 ms) and reach the
					// producer just after; a later one is a bug.
					if c.times == 1 && time.Since(ended) < time.Second {
						continue
					}
					t.Fatalf("checked %q, an ended transaction", c.msg.Body)
				}
				checked = max(checked, c.times)
			}
			late := tb.sendHalf(t, "TX", 0, "sent-before-stop", nil)
			if err := tb.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			for len(p.checks) > 0 {
				checked = max(checked, p.nextCheck(t, time.Second).times)
			}
			if tc.loseSnapshot {
				if err := os.Remove(filepath.Join(dir, "config", "transaction.json")); err != nil {
					t.Fatal(err)
				}
			}

			tb2 := startBroker(t, edit)
			p2 := newTxProducer(t, tb2)
			// The first check of each open transaction after the restart
			// continues its count; later ones may follow before the other's.
			want := map[int64]int{open.end.TranStateTableOffset: checked + 1, late.end.TranStateTableOffset: 1}
			seen := map[int64]bool{}
			for len(seen) < len(want) {
				c := p2.nextCheck(t, 5*time.Second)
				q := c.header.TranStateTableOffset
				n, ok := want[q]
				if !ok {
					t.Fatalf("after restart, checked %q (check %d)", c.msg.Body, c.times)
				}
				if !seen[q] && c.times != n {
					t.Fatalf("after restart, %q first checked with TRANSACTION_CHECK_TIMES %d, want %d", c.msg.Body, c.times, n)
				}
				seen[q] = true
			}
			tb2.mustEnd(t, committed.end, protocol.TransactionCommit)
			tb2.mustEnd(t, rolledBack.end, protocol.TransactionCommit)
			tb2.mustEnd(t, open.end, protocol.TransactionCommit)
			got := map[string]int{}
			for _, m := range tb2.queue(t, "TX", 0) {
				got[string(m.Body)]++
			}
			if len(got) != 2 || got["committed"] != 1 || got["open"] != 1 {
				t.Fatalf("TX/0 holds %v, want committed and open once each", got)
			}
		})
	}
}

// TestTransactionStateClaims covers the in-memory rules: below the intake
// offset a transaction has ended iff it is not open; at or above it iff it
// is in endedAhead; a claim excludes other claims until released.
func TestTransactionStateClaims(t *testing.T) {
	st := &txState{
		next:       10,
		open:       map[int64]*openTx{4: {QueueOffset: 4}},
		endedAhead: map[int64]struct{}{12: {}},
		claims:     map[int64]*txClaim{},
	}
	opEnd := func() int64 { return 7 }
	for q, want := range map[int64]bool{3: true, 4: false, 10: false, 12: true} {
		if got := st.isEndedLocked(q); got != want {
			t.Errorf("isEnded(%d) = %v, want %v", q, got, want)
		}
	}
	if ended, err := st.claim(t.Context(), 4, opEnd); ended || err != nil {
		t.Fatalf("claim(4) = %v, %v", ended, err)
	}
	if st.tryClaim(4, opEnd) {
		t.Fatal("claimed twice")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := st.claim(ctx, 4, opEnd); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second claim did not wait: %v", err)
	}
	waited := make(chan bool)
	go func() {
		ended, _ := st.claim(t.Context(), 4, opEnd)
		waited <- ended
	}()
	st.release(4, true)
	if !<-waited {
		t.Fatal("a claim waiting for a commit did not see the transaction ended")
	}
	if ended, _ := st.claim(t.Context(), 11, opEnd); ended {
		t.Fatal("11 ended")
	}
	st.release(11, true)
	if _, ok := st.endedAhead[11]; !ok || st.tryClaim(11, opEnd) || st.tryClaim(3, opEnd) {
		t.Fatal("ended transactions claimable")
	}
}
