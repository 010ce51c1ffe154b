package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/mqtest"
)

func TestQueryMsgByOffset(t *testing.T) {
	c := mqtest.Start(t)
	type result struct {
		Queue struct {
			Broker  string
			QueueID int32
		}
		QueueOffset int64
	}
	var sent []result
	for i := range 3 {
		out, err := admin(t, c, "sendMessage", "-t", "ByOffset", "-body", fmt.Sprint("body-", i), "--json")
		var r result
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("sendMessage --json: %v %s", err, out)
		}
		sent = append(sent, r)
	}
	// The first send created the topic; the broker registers it with the
	// NameServer just after answering, and queryMsgByOffset needs the route.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := admin(t, c, "topicRoute", "-t", "ByOffset"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no route for ByOffset: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, s := range sent {
		args := []string{"queryMsgByOffset", "-t", "ByOffset", "-b", s.Queue.Broker, "-i", fmt.Sprint(s.Queue.QueueID), "-o", fmt.Sprint(s.QueueOffset)}
		out, err := admin(t, c, args...)
		if err != nil || !strings.Contains(out, fmt.Sprintf("Body: body-%d\n", i)) || !strings.Contains(out, fmt.Sprintf("Queue Offset: %d\n", s.QueueOffset)) {
			t.Fatalf("queryMsgByOffset %v: %v\n%s", args, err, out)
		}
		out, err = admin(t, c, append(args, "--json")...)
		var msgs []struct {
			Topic       string
			QueueID     int32
			QueueOffset int64
			Body        []byte
		}
		if err != nil || json.Unmarshal([]byte(out), &msgs) != nil || len(msgs) != 1 ||
			string(msgs[0].Body) != fmt.Sprint("body-", i) || msgs[0].QueueID != s.Queue.QueueID || msgs[0].QueueOffset != s.QueueOffset {
			t.Fatalf("queryMsgByOffset --json: %v %s", err, out)
		}
	}
	s := sent[0]
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-t", "ByOffset", "-b", s.Queue.Broker, "-i", "0"}, "-o"},
		{[]string{"-t", "ByOffset", "-b", s.Queue.Broker, "-i", "x", "-o", "0"}, "queue ID"},
		{[]string{"-t", "ByOffset", "-b", s.Queue.Broker, "-i", "0", "-o", "-1"}, "queue offset"},
		{[]string{"-t", "ByOffset", "-b", "nobroker", "-i", "0", "-o", "0"}, "nobroker"},
		{[]string{"-t", "ByOffset", "-b", s.Queue.Broker, "-i", fmt.Sprint(s.Queue.QueueID), "-o", "1000"}, "message not found"},
		{[]string{"-t", "NoSuchTopic", "-b", s.Queue.Broker, "-i", "0", "-o", "0"}, "NoSuchTopic"},
	} {
		if _, err := admin(t, c, append([]string{"queryMsgByOffset"}, tc.args...)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("queryMsgByOffset %v: %v, want an error naming %q", tc.args, err, tc.want)
		}
	}
}
