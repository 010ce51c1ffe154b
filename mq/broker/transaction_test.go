package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

func fastTx(c *Config) {
	c.TransactionTimeout = 100 * time.Millisecond
	c.TransactionCheckInterval = 50 * time.Millisecond
	c.TransactionCheckMax = 3
}

// sendHalf sends a transactional half message and returns the
// END_TRANSACTION header that refers to it.
func (tb *testBroker) sendHalf(t *testing.T, topic string, qid int32, body string) protocol.EndTransactionRequestHeader {
	t.Helper()
	h := protocol.SendMessageHeader{
		ProducerGroup: "tpg", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4, QueueID: qid,
		SysFlag: protocol.TransactionPrep, BornTimestamp: time.Now().UnixMilli(),
		Properties: protocol.MarshalProperties(map[string]string{"TRAN_MSG": "true", "PGROUP": "tpg", "UNIQ_KEY": "TX-" + body}),
	}
	resp := tb.call(t, protocol.SendMessage, h.Ext(), []byte(body))
	if resp.Code != protocol.Success {
		t.Fatalf("half send: %d %q", resp.Code, resp.Remark)
	}
	_, phy, err := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	qo, _ := strconv.ParseInt(resp.Ext("queueOffset"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.EndTransactionRequestHeader{ProducerGroup: "tpg", TranStateTableOffset: qo, CommitLogOffset: phy, MsgID: "TX-" + body}
}

func (tb *testBroker) end(t *testing.T, h protocol.EndTransactionRequestHeader, decision int32) *remoting.Command {
	t.Helper()
	h.CommitOrRollback = decision
	return tb.call(t, protocol.EndTransaction, h.Ext(), nil)
}

func TestTransactionCommitRollback(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *Config) { c.Store.Dir = dir }
	tb := startBroker(t, edit)
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	commit := tb.sendHalf(t, "TX", 2, "commit-me")
	rollback := tb.sendHalf(t, "TX", 2, "roll-me-back")
	if _, msgs := tb.pull(t, "g", "TX", 2, 0, 0); len(msgs) != 0 {
		t.Fatal("half message visible before commit")
	}
	if r := tb.end(t, commit, protocol.TransactionCommit); r.Code != protocol.Success {
		t.Fatalf("commit: %d %q", r.Code, r.Remark)
	}
	tb.end(t, commit, protocol.TransactionCommit) // twice: still one copy
	if r := tb.end(t, rollback, protocol.TransactionRoll); r.Code != protocol.Success {
		t.Fatalf("rollback: %d %q", r.Code, r.Remark)
	}
	_, msgs := tb.pull(t, "g", "TX", 2, 0, 0)
	if len(msgs) != 1 || string(msgs[0].Body) != "commit-me" || msgs[0].SysFlag&protocol.TransactionMask != protocol.TransactionCommit || msgs[0].PreparedTransactionOffset != commit.CommitLogOffset {
		t.Fatalf("after commit: %d messages %+v", len(msgs), msgs)
	}
	bad := commit
	bad.ProducerGroup = "other"
	if r := tb.end(t, bad, protocol.TransactionCommit); r.Code != protocol.SystemError {
		t.Fatalf("wrong group: %d", r.Code)
	}
	bad = commit
	bad.CommitLogOffset = 1
	if r := tb.end(t, bad, protocol.TransactionCommit); r.Code != protocol.SystemError {
		t.Fatalf("wrong offset: %d", r.Code)
	}
	// Decisions survive a restart: no second copy, no check-back.
	tb.Shutdown(t.Context())
	tb2 := startBroker(t, edit)
	tb2.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*"})
	tb2.end(t, commit, protocol.TransactionCommit)
	if _, msgs := tb2.pull(t, "g", "TX", 2, 0, 0); len(msgs) != 1 {
		t.Fatalf("after restart: %d copies", len(msgs))
	}
}

func TestTransactionCheckBack(t *testing.T) {
	tb := startBroker(t, fastTx)
	checks := make(chan *remoting.Command, 16)
	answer := make(chan int32, 16)
	var producer *remoting.Client
	producer = remoting.NewClient(remoting.ClientConfig{Handler: remoting.HandlerFunc(func(ctx context.Context, c *remoting.Conn, req *remoting.Command) *remoting.Command {
		if req.Code != protocol.CheckTransactionState {
			return nil
		}
		checks <- req
		if d := <-answer; d != 0 {
			h, _ := protocol.DecodeCheckTransactionStateRequestHeader(req.ExtFields)
			end := protocol.EndTransactionRequestHeader{ProducerGroup: "tpg", TranStateTableOffset: h.TranStateTableOffset, CommitLogOffset: h.CommitLogOffset, CommitOrRollback: d, FromTransactionCheck: true}
			c.Invoke(ctx, remoting.NewRequest(protocol.EndTransaction, end.Ext(), nil))
		}
		return nil
	})})
	defer producer.Close()
	hb, _ := (&protocol.HeartbeatData{ClientID: "p1", ProducerDataSet: []protocol.ProducerData{{GroupName: "tpg"}}}).Marshal()
	if _, err := producer.Invoke(t.Context(), tb.addr, remoting.NewRequest(protocol.HeartBeat, nil, hb)); err != nil {
		t.Fatal(err)
	}
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"TX": "*", TopicTransMaxTime: "*"})
	tb.sendHalf(t, "TX", 1, "unknown")
	// First check: answer nothing; second: commit.
	first := <-checks
	answer <- 0
	m, err := protocol.DecodeMessage(first.Body, false)
	if err != nil || m.Topic != "TX" || m.QueueID != 1 || m.Property("PGROUP") != "tpg" || first.Ext("msgId") != "TX-unknown" {
		t.Fatalf("check body: %+v %v ext %v", m, err, first.ExtFields)
	}
	<-checks
	answer <- protocol.TransactionCommit
	msgs := tb.waitMessages(t, "g", "TX", 1, 1, 5*time.Second)
	if string(msgs[0].Body) != "unknown" {
		t.Fatalf("committed after check: %q", msgs[0].Body)
	}

	// Never answered: after TransactionCheckMax checks it is given up.
	tb.sendHalf(t, "TX", 1, "forgotten")
	for range 3 {
		<-checks
		answer <- 0
	}
	given := tb.waitMessages(t, "g", TopicTransMaxTime, 0, 1, 5*time.Second)
	if string(given[0].Body) != "forgotten" {
		t.Fatalf("given-up message %q", given[0].Body)
	}
	select {
	case <-checks:
		t.Fatal("checked again after the maximum")
	case <-time.After(300 * time.Millisecond):
	}
}
