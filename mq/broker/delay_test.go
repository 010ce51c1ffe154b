package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// fastLevels makes delay levels short enough for tests: 200ms, 400ms, ...
func fastLevels(c *Config) {
	c.MessageDelayLevel = nil
	for i := range 18 {
		c.MessageDelayLevel = append(c.MessageDelayLevel, time.Duration(i+1)*200*time.Millisecond)
	}
}

// waitMessages pulls a queue until it has n messages.
func (tb *testBroker) waitMessages(t *testing.T, group, topic string, qid int32, n int, within time.Duration) []*protocol.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, msgs := tb.pull(t, group, topic, qid, 0, 0)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d has %d messages after %v, want %d", topic, qid, len(msgs), within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDelayedDelivery(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *Config) { fastLevels(c); c.Store.Dir = dir }
	tb := startBroker(t, edit)
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"D": "*"})
	tb.send(t, "D", 1, "now", nil)
	sent := time.Now()
	resp := tb.send(t, "D", 1, "later", map[string]string{"DELAY": "2", "KEYS": "k"})
	if resp.Code != protocol.Success || resp.Ext("queueId") != "1" {
		t.Fatalf("delayed send: %d %v", resp.Code, resp.ExtFields)
	}
	if _, msgs := tb.pull(t, "g", "D", 1, 0, 0); len(msgs) != 1 {
		t.Fatalf("delayed message visible at once: %d messages", len(msgs))
	}
	msgs := tb.waitMessages(t, "g", "D", 1, 2, 5*time.Second)
	late := time.Since(sent)
	m := msgs[1]
	if late < 400*time.Millisecond {
		t.Fatalf("delivered after %v, before its 400ms delay", late)
	}
	due := time.UnixMilli(m.BornTimestamp).Add(400 * time.Millisecond)
	if lag := time.UnixMilli(m.StoreTimestamp).Sub(due); lag > 150*time.Millisecond {
		t.Errorf("delivered %v after due (want within 100ms plus scheduling slack)", lag)
	}
	if m.Property("DELAY") != "" || m.Property("REAL_TOPIC") != "D" || string(m.Body) != "later" {
		t.Fatalf("delivered copy: %+v", m)
	}
	// Restart: delivered messages are not delivered again; pending ones
	// still are.
	tb.send(t, "D", 1, "across restart", map[string]string{"DELAY": "3"})
	tb.Shutdown(t.Context())
	tb2 := startBroker(t, edit)
	tb2.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"D": "*"})
	msgs = tb2.waitMessages(t, "g", "D", 1, 3, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if _, all := tb2.pull(t, "g", "D", 1, 0, 0); len(all) != 3 || string(msgs[2].Body) != "across restart" {
		t.Fatalf("after restart: %d messages", len(all))
	}
}

func TestDelayLevelClamped(t *testing.T) {
	tb := startBroker(t, fastLevels)
	tb.send(t, "D", 0, "x", map[string]string{"DELAY": "99"})
	res := tb.Store().MaxOffset(TopicSchedule, 17)
	if res != 1 {
		t.Fatalf("level 99 not clamped to 18: schedule queue 17 has %d", res)
	}
}

func TestSendBackRetryAndDLQ(t *testing.T) {
	tb := startBroker(t, func(c *Config) { fastLevels(c); c.MaxReconsumeTimes = 2 })
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"R": "*", RetryTopic("g"): "*", DLQTopic("g"): "*"})
	resp := tb.send(t, "R", 0, "fail me", map[string]string{"UNIQ_KEY": "U1"})
	phy, _ := strconv.ParseInt(resp.Ext("msgId")[16:], 16, 64)
	sendBack := func(offset int64, level int32) {
		h := protocol.ConsumerSendMsgBackRequestHeader{Offset: offset, Group: "g", DelayLevel: level, OriginMsgID: "U1", OriginTopic: "R", MaxReconsumeTimes: -1, HasMaxReconsumeTimes: true}
		if r := tb.call(t, protocol.ConsumerSendMsgBack, h.Ext(), nil); r.Code != protocol.Success {
			t.Fatalf("send back: %d %q", r.Code, r.Remark)
		}
	}
	sendBack(phy, 0)
	retried := tb.waitMessages(t, "g", RetryTopic("g"), 0, 1, 5*time.Second)[0]
	if retried.ReconsumeTimes != 1 || retried.Property("RETRY_TOPIC") != "R" || retried.Property("UNIQ_KEY") != "U1" || retried.Property("ORIGIN_MESSAGE_ID") != "U1" {
		t.Fatalf("retry copy: reconsume %d, props %q", retried.ReconsumeTimes, retried.Properties)
	}
	sendBack(retried.PhysicalOffset, 0)
	second := tb.waitMessages(t, "g", RetryTopic("g"), 0, 2, 5*time.Second)[1]
	// reconsumeTimes 2 = the limit: the next failure goes to the DLQ.
	sendBack(second.PhysicalOffset, 0)
	dlq := tb.waitMessages(t, "g", DLQTopic("g"), 0, 1, 5*time.Second)
	if string(dlq[0].Body) != "fail me" {
		t.Fatalf("DLQ body %q", dlq[0].Body)
	}
	// delayLevel -1: straight to the DLQ.
	resp = tb.send(t, "R", 0, "poison", nil)
	phy, _ = strconv.ParseInt(resp.Ext("msgId")[16:], 16, 64)
	sendBack(phy, -1)
	tb.waitMessages(t, "g", DLQTopic("g"), 0, 2, 5*time.Second)
	// A bad offset is an error answer, not a crash.
	h := protocol.ConsumerSendMsgBackRequestHeader{Offset: 3, Group: "g", OriginTopic: "R"}
	if r := tb.call(t, protocol.ConsumerSendMsgBack, h.Ext(), nil); r.Code != protocol.SystemError {
		t.Fatalf("bad offset: %d", r.Code)
	}
}
