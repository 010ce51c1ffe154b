package broker

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// sendOriginal sends a message as a producer would (flag 3, born a second
// ago), already consumed reconsumeTimes times, and returns its record.
func sendOriginal(t *testing.T, tb *testBroker, topic, body string, reconsumeTimes int32, props map[string]string) *protocol.Message {
	t.Helper()
	h := protocol.SendMessageHeader{
		ProducerGroup: "pg", Topic: topic, DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4,
		QueueID: 0, Flag: 3, ReconsumeTimes: reconsumeTimes, BornTimestamp: time.Now().UnixMilli() - 1000,
		Properties: protocol.MarshalProperties(props),
	}
	resp := tb.call(t, protocol.SendMessage, h.Ext(), []byte(body))
	if resp.Code != protocol.Success {
		t.Fatalf("send: %d %q", resp.Code, resp.Remark)
	}
	_, phy, err := protocol.ParseOffsetMessageID(resp.Ext("msgId"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := tb.Store().Message(phy)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sendBack hands a message back as a failing consumer does.
func sendBack(t *testing.T, tb *testBroker, h protocol.ConsumerSendMsgBackRequestHeader) *remoting.Command {
	t.Helper()
	return tb.call(t, protocol.ConsumerSendMsgBack, h.Ext(), nil)
}

// lastStored returns the newest message of a queue, nil if it is empty.
func lastStored(t *testing.T, tb *testBroker, topic string, qid int32) *protocol.Message {
	t.Helper()
	n := tb.Store().MaxOffset(topic, qid)
	if n == 0 {
		return nil
	}
	m, err := tb.Store().MessageAtQueueOffset(topic, qid, n-1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scheduled counts the messages of the schedule topic.
func scheduled(tb *testBroker) int64 {
	var n int64
	for q := range int32(len(tb.cfg.MessageDelayLevel)) {
		n += tb.Store().MaxOffset(TopicSchedule, q)
	}
	return n
}

// checkRetryCopy checks a copy of orig made by a send-back: same message,
// one more reconsume time, RETRY_TOPIC and ORIGIN_MESSAGE_ID naming the
// first delivery, no DELAY.
func checkRetryCopy(t *testing.T, what string, got, orig *protocol.Message, reconsumeTimes int32) {
	t.Helper()
	if string(got.Body) != string(orig.Body) || got.Flag != orig.Flag || got.SysFlag != orig.SysFlag ||
		got.BornTimestamp != orig.BornTimestamp || got.BornHost != orig.BornHost || got.ReconsumeTimes != reconsumeTimes {
		t.Errorf("%s: body %q flag %d sysFlag %d born %d %v reconsumeTimes %d, want %q %d %d %d %v %d", what,
			got.Body, got.Flag, got.SysFlag, got.BornTimestamp, got.BornHost, got.ReconsumeTimes,
			orig.Body, orig.Flag, orig.SysFlag, orig.BornTimestamp, orig.BornHost, reconsumeTimes)
	}
	props := protocol.ParseProperties(got.Properties)
	want := map[string]string{
		"RETRY_TOPIC":       orig.Topic,
		"ORIGIN_MESSAGE_ID": protocol.OffsetMessageID(orig.StoreHost, orig.PhysicalOffset),
	}
	for k, v := range protocol.ParseProperties(orig.Properties) {
		if _, ok := want[k]; !ok {
			want[k] = v // UNIQ_KEY, KEYS, TAGS, CLUSTER, ...
		}
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("%s: %s=%q, want %q", what, k, props[k], v)
		}
	}
	if v, ok := props["DELAY"]; ok {
		t.Errorf("%s: DELAY=%s left on the copy", what, v)
	}
}

// A failed message comes back in the group's retry topic after level 3's
// delay, then level 4's, as the same message with one more reconsume time.
func TestRetrySendBack(t *testing.T) {
	probe := startSchedulingProbe(t)
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	retry := RetryTopic("g")
	tb.heartbeat(t, "c", "g", "CLUSTERING", map[string]string{"R": "*", retry: "*"})
	orig := sendOriginal(t, tb, "R", "fail me", 0, map[string]string{"UNIQ_KEY": "U1", "KEYS": "k", "TAGS": "ta"})

	h := protocol.ConsumerSendMsgBackRequestHeader{Offset: orig.PhysicalOffset, Group: "g", OriginMsgID: "U1", OriginTopic: "R", MaxReconsumeTimes: 16, HasMaxReconsumeTimes: true}
	if r := sendBack(t, tb, h); r.Code != protocol.Success {
		t.Fatalf("send back: %d %q", r.Code, r.Remark)
	}
	sched := lastStored(t, tb, TopicSchedule, 2)
	if sched == nil || sched.Property("REAL_TOPIC") != retry || sched.Property("REAL_QID") != "0" || sched.Property("DELAY") != "3" {
		t.Fatalf("no level-3 retry in the schedule topic: %+v", sched)
	}
	if n := tb.Store().MaxOffset(retry, 0); n != 0 {
		t.Fatalf("the retry is in %s at once (%d messages), want it after level 3's delay", retry, n)
	}
	first := waitStored(t, tb.Store(), retry, 0, 1, 5*time.Second)[0]
	probe.checkDeliveredAt(t, "first retry", first, sched.StoreTimestamp+300)
	checkRetryCopy(t, "first retry", first, orig, 1)
	if tc, ok := tb.topics.get(retry); !ok || tc.ReadQueueNums != 1 || tc.WriteQueueNums != 1 || tc.Perm != 6 {
		t.Errorf("retry topic config %+v, want 1 queue, perm 6", tc)
	}
	// The group's consumer pulls it like any topic.
	if _, pulled := tb.pull(t, "g", retry, 0, 0, 0); len(pulled) != 1 || pulled[0].Property("UNIQ_KEY") != "U1" {
		t.Fatalf("pull of %s: %d messages", retry, len(pulled))
	}

	// It fails again: level 4, and RETRY_TOPIC and ORIGIN_MESSAGE_ID still
	// name the original.
	h.Offset, h.OriginTopic = first.PhysicalOffset, "R"
	if r := sendBack(t, tb, h); r.Code != protocol.Success {
		t.Fatalf("second send back: %d %q", r.Code, r.Remark)
	}
	sched = lastStored(t, tb, TopicSchedule, 3)
	if sched == nil || sched.Property("DELAY") != "4" {
		t.Fatalf("no level-4 retry in the schedule topic: %+v", sched)
	}
	second := waitStored(t, tb.Store(), retry, 0, 2, 5*time.Second)[1]
	probe.checkDeliveredAt(t, "second retry", second, sched.StoreTimestamp+400)
	checkRetryCopy(t, "second retry", second, orig, 2)
}

// Where a handed-back message goes, by its reconsume times, the limit the
// client sends or the group's, and the delay level asked for.
func TestRetryOrDeadLetter(t *testing.T) {
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	withLimit := func(limit int32) protocol.ConsumerSendMsgBackRequestHeader {
		return protocol.ConsumerSendMsgBackRequestHeader{MaxReconsumeTimes: limit, HasMaxReconsumeTimes: true}
	}
	cases := []struct {
		name       string
		groupLimit int32 // retryMaxTimes of the group; 0: created on the fly with 16
		reconsume  int32
		header     protocol.ConsumerSendMsgBackRequestHeader
		wantLevel  int // 0: DLQ
	}{
		{name: "below the client's limit", reconsume: 1, header: withLimit(2), wantLevel: 4},
		{name: "at the client's limit", reconsume: 2, header: withLimit(2)},
		{name: "client allows no retry", reconsume: 0, header: withLimit(0)},
		{name: "client limit -1 means the group's, below", reconsume: 15, header: withLimit(-1), wantLevel: 18},
		{name: "client limit -1 means the group's, at", reconsume: 16, header: withLimit(-1)},
		{name: "no client limit, group's below", groupLimit: 3, reconsume: 2, wantLevel: 5},
		{name: "no client limit, group's reached", groupLimit: 3, reconsume: 3},
		{name: "client limit over the group's", groupLimit: 3, reconsume: 3, header: withLimit(5), wantLevel: 6},
		{name: "delay level -1 goes to the DLQ at once", reconsume: 0, header: protocol.ConsumerSendMsgBackRequestHeader{DelayLevel: -1, MaxReconsumeTimes: 16, HasMaxReconsumeTimes: true}},
		{name: "client's delay level", reconsume: 4, header: protocol.ConsumerSendMsgBackRequestHeader{DelayLevel: 1, MaxReconsumeTimes: 16, HasMaxReconsumeTimes: true}, wantLevel: 1},
		{name: "client's delay level clamped", reconsume: 0, header: protocol.ConsumerSendMsgBackRequestHeader{DelayLevel: 40, MaxReconsumeTimes: 16, HasMaxReconsumeTimes: true}, wantLevel: 18},
		{name: "3+reconsumeTimes clamped", reconsume: 20, header: withLimit(30), wantLevel: 18},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			group := fmt.Sprintf("g%d", i)
			if tc.groupLimit > 0 {
				sg := protocol.DefaultSubscriptionGroupConfig(group)
				sg.RetryMaxTimes = tc.groupLimit
				body, _ := json.Marshal(sg)
				if r := tb.call(t, protocol.UpdateAndCreateSubscription, nil, body); r.Code != protocol.Success {
					t.Fatalf("create group: %d %q", r.Code, r.Remark)
				}
			}
			orig := sendOriginal(t, tb, "T", tc.name, tc.reconsume, map[string]string{"UNIQ_KEY": fmt.Sprint("U", i)})
			before := scheduled(tb)
			h := tc.header
			h.Offset, h.Group, h.OriginTopic = orig.PhysicalOffset, group, "T"
			if r := sendBack(t, tb, h); r.Code != protocol.Success {
				t.Fatalf("send back: %d %q", r.Code, r.Remark)
			}
			dlq := DLQTopic(group)
			if tc.wantLevel == 0 {
				// Stored before the answer, without delay.
				got := lastStored(t, tb, dlq, 0)
				if got == nil {
					t.Fatalf("nothing in %s", dlq)
				}
				checkRetryCopy(t, "dead letter", got, orig, tc.reconsume+1)
				if dc, ok := tb.topics.get(dlq); !ok || dc.ReadQueueNums != 1 || dc.WriteQueueNums != 1 || dc.Perm != 6 {
					t.Errorf("DLQ topic config %+v, want 1 queue, perm 6", dc)
				}
				if n := scheduled(tb); n != before {
					t.Errorf("a retry was scheduled too (%d -> %d)", before, n)
				}
				return
			}
			got := lastStored(t, tb, TopicSchedule, int32(tc.wantLevel-1))
			if got == nil || got.Property("REAL_TOPIC") != RetryTopic(group) || got.Property("DELAY") != fmt.Sprint(tc.wantLevel) {
				t.Fatalf("no retry at level %d in the schedule topic: %+v", tc.wantLevel, got)
			}
			if n := scheduled(tb); n != before+1 {
				t.Errorf("%d messages scheduled, want %d", n, before+1)
			}
			if got.ReconsumeTimes != tc.reconsume+1 {
				t.Errorf("reconsume times %d, want %d", got.ReconsumeTimes, tc.reconsume+1)
			}
			if _, ok := tb.topics.get(dlq); ok {
				t.Errorf("%s created for a message that is retried", dlq)
			}
		})
	}
}

// Both ways into the DLQ end there for good: the dead letter keeps the
// message id and is not scheduled again.
func TestRetryUntilDeadLetter(t *testing.T) {
	tb := startBroker(t, delayLevels(50*time.Millisecond))
	retry, dlq := RetryTopic("g"), DLQTopic("g")
	orig := sendOriginal(t, tb, "R", "poison", 0, map[string]string{"UNIQ_KEY": "P1"})
	h := protocol.ConsumerSendMsgBackRequestHeader{Group: "g", OriginTopic: "R", MaxReconsumeTimes: 2, HasMaxReconsumeTimes: true}
	at := orig
	for i := range 2 {
		h.Offset = at.PhysicalOffset
		if r := sendBack(t, tb, h); r.Code != protocol.Success {
			t.Fatalf("send back %d: %d %q", i, r.Code, r.Remark)
		}
		at = waitStored(t, tb.Store(), retry, 0, i+1, 5*time.Second)[i]
		checkRetryCopy(t, fmt.Sprint("retry ", i+1), at, orig, int32(i+1))
	}
	h.Offset = at.PhysicalOffset
	if r := sendBack(t, tb, h); r.Code != protocol.Success {
		t.Fatalf("last send back: %d %q", r.Code, r.Remark)
	}
	dead := lastStored(t, tb, dlq, 0)
	if dead == nil {
		t.Fatalf("nothing in %s", dlq)
	}
	checkRetryCopy(t, "dead letter", dead, orig, 3)
	if n := scheduled(tb); n != 2 {
		t.Fatalf("%d messages went through the schedule topic, want 2 (the retries)", n)
	}
}

// Requests that cannot be served get an error answer, never a panic, and
// leave nothing behind; the broker goes on serving.
func TestRetryBadRequests(t *testing.T) {
	tb := startBroker(t, delayLevels(100*time.Millisecond))
	orig := sendOriginal(t, tb, "R", "x", 0, nil)
	valid := protocol.ConsumerSendMsgBackRequestHeader{Offset: orig.PhysicalOffset, Group: "g", OriginTopic: "R"}.Ext()
	with := func(k, v string) map[string]string {
		ext := map[string]string{}
		for key, val := range valid {
			ext[key] = val
		}
		if v == "<none>" {
			delete(ext, k)
		} else {
			ext[k] = v
		}
		return ext
	}
	cases := []struct {
		name string
		ext  map[string]string
	}{
		{"offset inside a message", with("offset", fmt.Sprint(orig.PhysicalOffset+3))},
		{"negative offset", with("offset", "-1")},
		{"offset past the end", with("offset", fmt.Sprint(int64(1)<<40))},
		{"offset not a number", with("offset", "x")},
		{"no offset", with("offset", "<none>")},
		{"no group", with("group", "<none>")},
		{"empty group", with("group", "")},
		{"group unfit for a topic name", with("group", "bad group")},
		{"delay level not a number", with("delayLevel", "soon")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tb.call(t, protocol.ConsumerSendMsgBack, tc.ext, nil)
			if r.Code != protocol.SystemError || r.Remark == "" {
				t.Fatalf("answer %d %q, want %d with a remark", r.Code, r.Remark, protocol.SystemError)
			}
		})
	}
	if n := scheduled(tb); n != 0 {
		t.Fatalf("%d messages scheduled by bad requests", n)
	}
	for _, topic := range []string{DLQTopic("g"), DLQTopic("bad group"), RetryTopic("bad group"), RetryTopic("")} {
		if _, ok := tb.topics.get(topic); ok {
			t.Errorf("bad requests created %s", topic)
		}
	}
	if r := tb.call(t, protocol.ConsumerSendMsgBack, valid, nil); r.Code != protocol.Success {
		t.Fatalf("valid send back after the bad ones: %d %q", r.Code, r.Remark)
	}
}

// Send-backs the broker's or the group's configuration refuses, or drops.
func TestRetryConfigured(t *testing.T) {
	cases := []struct {
		name     string
		cfg      func(*Config)
		setup    func(t *testing.T, tb *testBroker)
		wantCode int16
	}{
		{
			name:     "group unknown and not auto-created",
			cfg:      func(c *Config) { c.AutoCreateSubscriptionGroup = boolPtr(false) },
			wantCode: protocol.SubscriptionGroupNotExist,
		},
		{
			name:     "broker not writable",
			cfg:      func(c *Config) { c.BrokerPermission = int(protocol.PermRead) },
			wantCode: protocol.NoPermission,
		},
		{
			name: "retry topic not writable",
			setup: func(t *testing.T, tb *testBroker) {
				h := protocol.CreateTopicRequestHeader{Topic: RetryTopic("g"), DefaultTopic: "x", ReadQueueNums: 1, WriteQueueNums: 1, Perm: protocol.PermRead, TopicFilterType: FilterSingleTag}
				if r := tb.call(t, protocol.UpdateAndCreateTopic, h.Ext(), nil); r.Code != protocol.Success {
					t.Fatalf("create topic: %d %q", r.Code, r.Remark)
				}
			},
			wantCode: protocol.NoPermission,
		},
		{
			name: "group without retry queues drops it",
			setup: func(t *testing.T, tb *testBroker) {
				sg := protocol.DefaultSubscriptionGroupConfig("g")
				sg.RetryQueueNums = 0
				body, _ := json.Marshal(sg)
				if r := tb.call(t, protocol.UpdateAndCreateSubscription, nil, body); r.Code != protocol.Success {
					t.Fatalf("create group: %d %q", r.Code, r.Remark)
				}
			},
			wantCode: protocol.Success,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := startBroker(t, tc.cfg)
			if tc.setup != nil {
				tc.setup(t, tb)
			}
			// The checks come before the lookup, so any offset will do.
			h := protocol.ConsumerSendMsgBackRequestHeader{Offset: 0, Group: "g", OriginTopic: "R", MaxReconsumeTimes: -1, HasMaxReconsumeTimes: true}
			if r := sendBack(t, tb, h); r.Code != tc.wantCode {
				t.Fatalf("answer %d %q, want %d", r.Code, r.Remark, tc.wantCode)
			}
			if n := scheduled(tb); n != 0 {
				t.Fatalf("%d messages scheduled", n)
			}
			if _, ok := tb.topics.get(DLQTopic("g")); ok {
				t.Fatal("DLQ topic created")
			}
		})
	}
}

func TestRetryPlan(t *testing.T) {
	cases := []struct {
		reconsume  int32
		limit      int
		delayLevel int32
		levels     int
		wantDLQ    bool
		wantLevel  int
	}{
		{0, 16, 0, 18, false, 3},
		{1, 16, 0, 18, false, 4},
		{15, 16, 0, 18, false, 18},
		{16, 16, 0, 18, true, 0},
		{17, 16, 0, 18, true, 0},
		{0, 0, 0, 18, true, 0},
		{0, 16, -1, 18, true, 0},
		{0, 16, 7, 18, false, 7},
		{0, 16, 30, 18, false, 18},
		{5, 16, 0, 4, false, 4},
		{-9, 16, 0, 18, false, 1},
		{1 << 30, 1<<31 - 1, 0, 18, false, 18},
	}
	for _, tc := range cases {
		dlq, level := retryPlan(tc.reconsume, tc.limit, tc.delayLevel, tc.levels)
		if dlq != tc.wantDLQ || level != tc.wantLevel {
			t.Errorf("retryPlan(reconsume %d, limit %d, level %d, %d levels) = %v, %d; want %v, %d",
				tc.reconsume, tc.limit, tc.delayLevel, tc.levels, dlq, level, tc.wantDLQ, tc.wantLevel)
		}
	}
}
