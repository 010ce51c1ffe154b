package broker

import (
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// TestBadInputOnTheWire: broken frames close their connection, a frame
// over 16 MiB too, and the broker keeps serving everyone else.
func TestBadInputOnTheWire(t *testing.T) {
	tb := startBroker(t, nil)
	tb.send(t, "StillHere", 0, "warm-up", nil) // the test client's connection exists before counting
	before := runtime.NumGoroutine()
	huge := binary.BigEndian.AppendUint32(nil, 17<<20)
	for name, data := range map[string][]byte{
		"garbage":           []byte("\x16\x03\x01 a TLS hello, or anything else"),
		"truncated":         {0, 0, 1, 0, 0, 0, 0, 2, '{', '}'},
		"wrong serialize":   {0, 0, 0, 6, 9, 0, 0, 2, '{', '}'},
		"header overflow":   {0, 0, 0, 6, 0, 0xff, 0xff, 0xff, '{', '}'},
		"over 16 MiB frame": huge,
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", tb.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(data)
			nc.(*net.TCPConn).CloseWrite()
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := nc.Read(make([]byte, 64))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection left open after bad input")
			}
			if n != 0 {
				t.Fatalf("answered %d bytes to a broken frame", n)
			}
		})
	}
	// Still serving, and nothing left running for the closed connections.
	if r := tb.send(t, "StillHere", 0, "ok", nil); r.Code != protocol.Success {
		t.Fatalf("send after bad input: %d", r.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBadRequests: requests that decode but make no sense get a response
// code and a remark, never a panic or silence.
func TestBadRequests(t *testing.T) {
	tb := startBroker(t, nil)
	cases := []struct {
		name string
		code int16
		ext  map[string]string
		body []byte
		want int16
	}{
		{"send without a topic", protocol.SendMessage, map[string]string{"producerGroup": "p"}, []byte("x"), protocol.SystemError},
		{"send with a bad queueId", protocol.SendMessage, map[string]string{"producerGroup": "p", "topic": "T", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4", "queueId": "x", "sysFlag": "0", "bornTimestamp": "0", "flag": "0"}, nil, protocol.SystemError},
		{"pull without a group", protocol.PullMessage, map[string]string{"topic": "T"}, nil, protocol.SystemError},
		{"pull an unknown topic", protocol.PullMessage, protocol.PullMessageRequestHeader{ConsumerGroup: "g", Topic: "Nope", MaxMsgNums: 1, SysFlag: protocol.PullSubscription, Subscription: "*"}.Ext(), nil, protocol.TopicNotExist},
		{"heartbeat with a broken body", protocol.HeartBeat, nil, []byte("{"), protocol.SystemError},
		{"lock with a broken body", protocol.LockBatchMQ, nil, []byte("[]"), protocol.SystemError},
		{"unknown request code", 12345, nil, nil, protocol.RequestCodeNotSupported},
		{"view a message past the end", protocol.ViewMessageByID, map[string]string{"offset": "99999999"}, nil, protocol.SystemError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tb.call(t, tc.code, tc.ext, tc.body)
			if r.Code != tc.want || (r.Code != protocol.Success && strings.TrimSpace(r.Remark) == "") {
				t.Fatalf("got %d %q, want %d with a remark", r.Code, r.Remark, tc.want)
			}
		})
	}
	// A large body within the frame limit but over maxMessageSize.
	big := make([]byte, 5<<20)
	h := protocol.SendMessageHeader{ProducerGroup: "p", Topic: "Big", DefaultTopic: TopicAutoCreate, DefaultTopicQueueNums: 4}
	ctx := t.Context()
	r, err := tb.client.Invoke(ctx, tb.addr, remoting.NewRequest(protocol.SendMessage, h.Ext(), big))
	if err != nil || r.Code != protocol.MessageIllegal || !strings.Contains(r.Remark, "maxMessageSize") {
		t.Fatalf("oversized body: %v %v", r, err)
	}
}
