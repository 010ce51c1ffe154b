package broker

import (
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/store"
)

// Delivery timing. A delayed message must be written to its topic within
// maxDeliveryLag of its due time. On a loaded machine (-race, the tests of
// other packages on two CPUs) a goroutine can wait for a CPU much longer
// than that, so a check allows on top what a schedulingProbe saw: how late
// the test process's own timers fired, at least schedulingSlack. A slow
// broker fails the check on a calm machine; a busy machine does not fail a
// prompt broker. Store timestamps are milliseconds.
const (
	maxDeliveryLag  = 100 * time.Millisecond
	schedulingSlack = 50 * time.Millisecond
)

// schedulingProbe measures how late timers fire in this process while a
// test runs: the worst overshoot of a 5ms sleep.
type schedulingProbe struct {
	worst atomic.Int64 // nanoseconds
}

func startSchedulingProbe(t *testing.T) *schedulingProbe {
	p := &schedulingProbe{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			time.Sleep(5 * time.Millisecond)
			if late := time.Since(start) - 5*time.Millisecond; late > time.Duration(p.worst.Load()) {
				p.worst.Store(int64(late))
			}
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
	return p
}

// allowance is how late a delivery may be.
func (p *schedulingProbe) allowance() time.Duration {
	return maxDeliveryLag + max(schedulingSlack, time.Duration(p.worst.Load()))
}

// checkDeliveredAt checks that a copy was stored at its due time, not
// before and not more than maxDeliveryLag (plus the machine's scheduling
// delays) after.
func (p *schedulingProbe) checkDeliveredAt(t *testing.T, what string, copy *protocol.Message, dueMillis int64) {
	t.Helper()
	lag := time.Duration(copy.StoreTimestamp-dueMillis) * time.Millisecond
	if lag < 0 {
		t.Errorf("%s delivered %v before it was due", what, -lag)
	}
	if allowed := p.allowance(); lag > allowed {
		t.Errorf("%s delivered %v after it was due, want within %v (%v allowed on this machine now)", what, lag, maxDeliveryLag, allowed)
	}
}

// delayLevels sets 18 short delay levels: step, 2*step, ... 18*step.
func delayLevels(step time.Duration) func(*Config) {
	return func(c *Config) {
		c.MessageDelayLevel = nil
		for l := 1; l <= 18; l++ {
			c.MessageDelayLevel = append(c.MessageDelayLevel, time.Duration(l)*step)
		}
	}
}

// waitMessages pulls a queue (as group, which must have sent a heartbeat
// subscribing to topic) until it has n messages.
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

// storedMessages reads every message of a queue from the store.
func storedMessages(t *testing.T, s *store.Store, topic string, qid int32) []*protocol.Message {
	t.Helper()
	var out []*protocol.Message
	off := s.MinOffset(topic, qid)
	for {
		res, err := s.GetMessages(store.GetRequest{Topic: topic, QueueID: qid, Offset: off, MaxCount: 64, MaxBytes: 4 << 20})
		if err != nil {
			t.Fatalf("read %s/%d: %v", topic, qid, err)
		}
		if res.Status != store.Found {
			return out
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			t.Fatalf("decode %s/%d: %v", topic, qid, err)
		}
		out = append(out, msgs...)
		off = res.NextOffset
	}
}

// waitStored waits until a queue holds n messages and returns them all.
func waitStored(t *testing.T, s *store.Store, topic string, qid int32, n int, within time.Duration) []*protocol.Message {
	t.Helper()
	deadline := time.Now().Add(within)
	for s.MaxOffset(topic, qid) < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d has %d messages after %v, want %d", topic, qid, s.MaxOffset(topic, qid), within, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return storedMessages(t, s, topic, qid)
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sendDelayed sends one message with a delay level and returns the record
// stored in the schedule topic.
func sendDelayed(t *testing.T, tb *testBroker, topic string, qid int32, body string, level int, props map[string]string) *protocol.Message {
	t.Helper()
	p := map[string]string{"DELAY": fmt.Sprint(level)}
	maps.Copy(p, props)
	resp := tb.send(t, topic, qid, body, p)
	if resp.Code != protocol.Success || resp.Ext("queueId") != fmt.Sprint(qid) {
		t.Fatalf("delayed send: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
	}
	_, phy, err := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tb.Store().Message(phy)
	if err != nil {
		t.Fatalf("scheduled record: %v", err)
	}
	return m
}

func TestDelayDelivery(t *testing.T) {
	probe := startSchedulingProbe(t)
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"D": "red"})
	tb.send(t, "D", 1, "now", map[string]string{"TAGS": "red"})

	// Flag, reconsume times and born time must survive the delay.
	h := protocol.SendMessageHeader{
		ProducerGroup: "pg", Topic: "D", DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4,
		QueueID: 1, Flag: 7, ReconsumeTimes: 2, BornTimestamp: time.Now().UnixMilli() - 1000,
		Properties: protocol.MarshalProperties(map[string]string{"DELAY": "2", "KEYS": "k", "TAGS": "red", "UNIQ_KEY": "U-delay"}),
	}
	resp := tb.call(t, protocol.SendMessage, h.Ext(), []byte("later"))
	if resp.Code != protocol.Success || resp.Ext("queueId") != "1" {
		t.Fatalf("delayed send: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
	}
	_, phy, _ := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	sched, err := tb.Store().Message(phy)
	if err != nil {
		t.Fatal(err)
	}
	if sched.Topic != TopicSchedule || sched.QueueID != 1 || sched.Property("REAL_TOPIC") != "D" || sched.Property("REAL_QID") != "1" {
		t.Fatalf("scheduled record in %s/%d with REAL_TOPIC %q REAL_QID %q, want %s/1, D, 1",
			sched.Topic, sched.QueueID, sched.Property("REAL_TOPIC"), sched.Property("REAL_QID"), TopicSchedule)
	}
	due := sched.StoreTimestamp + 200
	if before := time.Now().UnixMilli(); before < due {
		if n := tb.Store().MaxOffset("D", 1); n != 1 {
			t.Fatalf("D/1 holds %d messages %dms before the delayed one is due, want 1", n, due-before)
		}
	}

	msgs := waitStored(t, tb.Store(), "D", 1, 2, 5*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("D/1 holds %d messages, want 2", len(msgs))
	}
	got := msgs[1]
	probe.checkDeliveredAt(t, "DELAY=2 message", got, due)
	if string(got.Body) != "later" || got.Flag != 7 || got.ReconsumeTimes != 2 || got.SysFlag != sched.SysFlag ||
		got.BornTimestamp != h.BornTimestamp || got.BornHost != sched.BornHost || got.QueueOffset != 1 || got.PhysicalOffset == sched.PhysicalOffset {
		t.Errorf("delivered copy: %+v\nscheduled: %+v", got, sched)
	}
	props := protocol.ParseProperties(got.Properties)
	want := map[string]string{"REAL_TOPIC": "D", "REAL_QID": "1", "KEYS": "k", "TAGS": "red", "UNIQ_KEY": "U-delay"}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("delivered copy has %s=%q, want %q", k, props[k], v)
		}
	}
	if _, ok := props["DELAY"]; ok {
		t.Errorf("delivered copy kept DELAY=%s: a consumer re-sending it would delay it again", props["DELAY"])
	}

	// A consumer filtering on the tag sees it: the copy's tag code is the
	// tag's hash again, not a due time.
	_, pulled := tb.pull(t, "g", "D", 1, 1, 0)
	if len(pulled) != 1 || string(pulled[0].Body) != "later" {
		t.Fatalf("pull with tag filter: %d messages", len(pulled))
	}
	waitFor(t, time.Second, "level 2 offset 1", func() bool { return tb.delayOffsets()[2] == 1 })
}

// Messages of one level come out in order, each once, across read batches.
func TestDelayManyInOrder(t *testing.T) {
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	const n = 75 // over two read batches
	for i := range n {
		sendDelayed(t, tb, "Many", 0, fmt.Sprint(i), 1, nil)
	}
	waitStored(t, tb.Store(), "Many", 0, n, 10*time.Second)
	waitFor(t, time.Second, "level 1 offset at the end", func() bool { return tb.delayOffsets()[1] == n })
	msgs := storedMessages(t, tb.Store(), "Many", 0)
	if len(msgs) != n {
		t.Fatalf("%d messages delivered, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Body)
		}
	}
}

// A backlog on one level (all due at once after a stop) does not hold up
// the other levels: each delivers a bounded number per round.
func TestDelayBacklogShared(t *testing.T) {
	dir := t.TempDir()
	levels := func(d time.Duration) func(*Config) {
		return func(c *Config) { c.MessageDelayLevel = []time.Duration{d, d}; c.Store.Dir = dir }
	}
	// Sent with hour-long levels, so nothing goes out; the broker restarts
	// with 100ms levels, and finds everything due (delays are the current
	// configuration's).
	tb := startBroker(t, levels(time.Hour))
	const n = delayRoundBudget + 44
	var last *protocol.Message
	for i := range n {
		last = sendDelayed(t, tb, "Backlog", 0, fmt.Sprint(i), 1, nil)
	}
	other := sendDelayed(t, tb, "Other", 0, "other", 2, nil)
	if err := tb.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.UnixMilli(max(last.StoreTimestamp, other.StoreTimestamp) + 110)))

	tb2 := startBroker(t, levels(100*time.Millisecond))
	backlog := waitStored(t, tb2.Store(), "Backlog", 0, n, 5*time.Second)
	got := waitStored(t, tb2.Store(), "Other", 0, 1, 5*time.Second)[0]
	if len(backlog) != n {
		t.Fatalf("%d of the backlog delivered, want %d", len(backlog), n)
	}
	for i, m := range backlog {
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("backlog message %d is %q", i, m.Body)
		}
	}
	if got.PhysicalOffset > backlog[n-1].PhysicalOffset {
		t.Errorf("level 2 waited for level 1's whole backlog of %d", n)
	}
}

func TestDelayLevelClamped(t *testing.T) {
	probe := startSchedulingProbe(t)
	levels := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	tb := startBroker(t, func(c *Config) { c.MessageDelayLevel = levels })
	sched := sendDelayed(t, tb, "Clamp", 0, "x", 99, nil)
	if sched.QueueID != 2 || sched.Property("DELAY") != "3" {
		t.Fatalf("DELAY=99 stored in schedule queue %d with DELAY=%s, want queue 2 (level 3, the last)", sched.QueueID, sched.Property("DELAY"))
	}
	got := waitStored(t, tb.Store(), "Clamp", 0, 1, 5*time.Second)[0]
	probe.checkDeliveredAt(t, "DELAY=99 message", got, sched.StoreTimestamp+300)
}

// Delivery survives a restart: what was delivered is not delivered again,
// what was pending is delivered, at once if it fell due while the broker
// was down.
func TestDelayRestart(t *testing.T) {
	probe := startSchedulingProbe(t)
	dir := t.TempDir()
	edit := func(c *Config) {
		delayLevels(100 * time.Millisecond)(c)
		c.Store.Dir = dir
	}
	tb := startBroker(t, edit)
	a := sendDelayed(t, tb, "R", 0, "a", 1, nil)
	waitStored(t, tb.Store(), "R", 0, 1, 5*time.Second)
	b := sendDelayed(t, tb, "R", 0, "b", 4, nil) // due 400ms after b was stored
	c := sendDelayed(t, tb, "R", 0, "c", 8, nil) // due 800ms after c was stored
	waitFor(t, time.Second, "level 1 offset 1", func() bool { return tb.delayOffsets()[1] == 1 })
	if err := tb.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if late := time.Now().UnixMilli() - (b.StoreTimestamp + 400); late >= 0 {
		t.Fatalf("the broker took too long to stop: b was due %dms before it stopped", late)
	}
	var saved delayOffsetsFile
	if _, err := loadJSON(filepath.Join(dir, "config", "delayOffset.json"), &saved); err != nil {
		t.Fatal(err)
	}
	if want := map[int]int64{1: 1, 4: 0, 8: 0}; !sameOffsets(saved.OffsetTable, want) {
		t.Fatalf("delayOffset.json holds %v, want %v", saved.OffsetTable, want)
	}

	// Stay down until b is due.
	time.Sleep(time.Until(time.UnixMilli(b.StoreTimestamp + 450)))
	restarting := time.Now().UnixMilli()
	tb2 := startBroker(t, edit)
	started := time.Now().UnixMilli()
	if off := tb2.delayOffsets()[1]; off != 1 {
		t.Fatalf("level 1 offset %d after restart, want 1 (a delivered already)", off)
	}
	msgs := waitStored(t, tb2.Store(), "R", 0, 2, 5*time.Second)
	// b is overdue: it goes out in the first round, as soon as the broker
	// runs (which may be before startBroker returns).
	if ts := msgs[1].StoreTimestamp; ts < restarting || ts > started+probe.allowance().Milliseconds() {
		t.Errorf("b (due while the broker was down) delivered %dms after the restart began, %dms after the broker started, want within %v of the start",
			ts-restarting, ts-started, maxDeliveryLag)
	}
	msgs = waitStored(t, tb2.Store(), "R", 0, 3, 5*time.Second)
	probe.checkDeliveredAt(t, "c (due after the restart)", msgs[2], c.StoreTimestamp+800)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, string(m.Body))
	}
	// Level 1 (a) is looked at before level 4 (b) in every round, so a
	// second copy of a would be stored before b's.
	if fmt.Sprint(bodies) != "[a b c]" {
		t.Fatalf("R/0 holds %v, want [a b c]", bodies)
	}
	if a.QueueOffset != 0 || b.QueueOffset != 0 || c.QueueOffset != 0 {
		t.Fatalf("schedule queue offsets %d %d %d, want 0 0 0", a.QueueOffset, b.QueueOffset, c.QueueOffset)
	}
	waitFor(t, time.Second, "every level at its end", func() bool {
		return sameOffsets(tb2.delayOffsets(), map[int]int64{1: 1, 4: 1, 8: 1})
	})
}

// sameOffsets compares offset tables, a missing level counting as 0.
func sameOffsets(got, want map[int]int64) bool {
	for l, off := range want {
		if got[l] != off {
			return false
		}
	}
	for l, off := range got {
		if want[l] != off {
			return false
		}
	}
	return true
}

// A saved offset beyond the end of its schedule queue (the queue lost its
// tail in a crash) moves back, so new messages are not skipped.
func TestDelayOffsetBeyondQueue(t *testing.T) {
	probe := startSchedulingProbe(t)
	dir := t.TempDir()
	if err := saveJSON(filepath.Join(dir, "config", "delayOffset.json"), delayOffsetsFile{OffsetTable: map[int]int64{1: 50}}); err != nil {
		t.Fatal(err)
	}
	tb := startBroker(t, func(c *Config) { delayLevels(100 * time.Millisecond)(c); c.Store.Dir = dir })
	waitFor(t, time.Second, "level 1 offset moved back to 0", func() bool { return tb.delayOffsets()[1] == 0 })
	sched := sendDelayed(t, tb, "Back", 0, "x", 1, nil)
	got := waitStored(t, tb.Store(), "Back", 0, 1, 5*time.Second)[0]
	probe.checkDeliveredAt(t, "message after the correction", got, sched.StoreTimestamp+100)
}

// A delayed message whose topic was deleted meanwhile is skipped; the
// messages after it are still delivered.
func TestDelayTopicDeleted(t *testing.T) {
	probe := startSchedulingProbe(t)
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	tb.send(t, "Gone", 0, "creates the topic", nil)
	sendDelayed(t, tb, "Gone", 0, "lost", 2, nil)
	if r := tb.call(t, protocol.DeleteTopicInBroker, map[string]string{"topic": "Gone"}, nil); r.Code != protocol.Success {
		t.Fatalf("delete topic: %d %q", r.Code, r.Remark)
	}
	sched := sendDelayed(t, tb, "Kept", 0, "kept", 2, nil)
	got := waitStored(t, tb.Store(), "Kept", 0, 1, 5*time.Second)[0]
	probe.checkDeliveredAt(t, "message after the skipped one", got, sched.StoreTimestamp+200)
	if n := tb.Store().MaxOffset("Gone", 0); n != 0 {
		t.Fatalf("deleted topic got %d messages", n)
	}
	if _, ok := tb.topics.get("Gone"); ok {
		t.Fatal("delivery re-created the deleted topic")
	}
	waitFor(t, time.Second, "level 2 offset 2", func() bool { return tb.delayOffsets()[2] == 2 })
}

// The offsets saved are only those whose copies are durable (below the
// commit log's flushed offset); at shutdown, all of them.
func TestDelayOffsetsSettle(t *testing.T) {
	dir := t.TempDir()
	d, err := openDelayOffsets(dir)
	if err != nil {
		t.Fatal(err)
	}
	reopen := func() map[int]int64 {
		t.Helper()
		if err := d.save(); err != nil {
			t.Fatal(err)
		}
		again, err := openDelayOffsets(dir)
		if err != nil {
			t.Fatal(err)
		}
		return again.snapshot()
	}
	d.advance(1, 5, 1000) // copies up to commit-log offset 1000
	d.advance(1, 7, 0)    // skipped messages: needs what the previous advance needs
	d.advance(1, 9, 2000)
	d.advance(2, 3, 0) // nothing to wait for
	steps := []struct {
		flushed     int64
		all         bool
		wantPending bool
		wantSaved   map[int]int64
	}{
		{flushed: 500, wantPending: true, wantSaved: map[int]int64{2: 3}},
		{flushed: 1999, wantPending: true, wantSaved: map[int]int64{1: 7, 2: 3}},
		{flushed: 2000, wantPending: false, wantSaved: map[int]int64{1: 9, 2: 3}},
	}
	for i, s := range steps {
		if pending := d.settle(s.flushed, s.all); pending != s.wantPending {
			t.Errorf("step %d: pending %v, want %v", i, pending, s.wantPending)
		}
		if got := reopen(); !sameOffsets(got, s.wantSaved) {
			t.Errorf("step %d (flushed %d): saved %v, want %v", i, s.flushed, got, s.wantSaved)
		}
	}
	if got := d.snapshot(); !sameOffsets(got, map[int]int64{1: 9, 2: 3}) {
		t.Errorf("in memory: %v", got)
	}
	d.advance(3, 4, 5000)
	if d.settle(4999, true) {
		t.Error("pending after settling all")
	}
	if got := reopen(); got[3] != 4 {
		t.Errorf("after settling all: %v", got)
	}
}
