package namesrv

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/remoting"
)

// startServer runs a NameServer on a free loopback port until the test
// ends, and checks that it stops cleanly.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	waitFor(t, "Serve to start", func() bool { return s.Addr() != nil })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

func newClient(t *testing.T) *remoting.Client {
	t.Helper()
	cl := remoting.NewClient(remoting.ClientConfig{})
	t.Cleanup(func() { cl.Close() })
	return cl
}

func invoke(t *testing.T, cl *remoting.Client, addr string, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Invoke(ctx, addr, req)
	if err != nil {
		t.Fatalf("request %d to %s: %v", req.Code, addr, err)
	}
	return resp
}

func routeReq(topic string) *remoting.Command {
	return remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
}

// waitFor polls cond until it holds, failing the test after 5 s. It waits
// for the server to notice something asynchronous (a closed socket).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Body forms of a REGISTER_BROKER request.
const (
	formJSON           = "json"            // uncompressed JSON
	formCompressed     = "compressed"      // protocol.RegisterBrokerBody.MarshalCompressed
	formJavaCompressed = "java-compressed" // built here by hand from doc 4.5
	formEmpty          = "empty"           // no body at all
)

// brokerReq describes a REGISTER_BROKER request.
type brokerReq struct {
	cluster, name, addr string
	id                  int64
	version             int64
	topics              []string // "name" or "name:queues", see table
	form                string   // default formJSON
	noCRC               bool     // bodyCrc32 = 0
}

func (b brokerReq) body(t testing.TB) []byte {
	t.Helper()
	w := table(b.version, b.topics...)
	var body []byte
	var err error
	switch b.form {
	case formJSON, "":
		body, err = (&protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: *w}).Marshal()
	case formCompressed:
		body, err = (&protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: *w}).MarshalCompressed()
	case formJavaCompressed:
		var lines []string
		for name, tc := range w.TopicConfigTable {
			lines = append(lines, name+" "+itoa(tc.ReadQueueNums)+" "+itoa(tc.WriteQueueNums)+" "+itoa(tc.Perm)+" SINGLE_TAG")
		}
		body = javaCompressedBody(`{"counter":`+itoa(int32(b.version))+`,"timestamp":1700000000000}`, lines, `[]`)
	case formEmpty:
	default:
		t.Fatalf("unknown body form %q", b.form)
	}
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func (b brokerReq) command(t testing.TB) *remoting.Command {
	t.Helper()
	body := b.body(t)
	h := protocol.RegisterBrokerRequestHeader{
		BrokerName: b.name, BrokerAddr: b.addr, ClusterName: b.cluster, HAServerAddr: haOf(b.addr),
		BrokerID: b.id, Compressed: b.form == formCompressed || b.form == formJavaCompressed,
	}
	if !b.noCRC {
		h.BodyCRC32 = int32(protocol.BodyChecksum(body))
	}
	return remoting.NewRequest(protocol.RegisterBroker, h.Ext(), body)
}

// javaCompressedBody builds the compressed REGISTER_BROKER body as doc 4.5
// describes Java's RegisterBrokerBody.encode(true): a zlib stream of
// length-prefixed data version JSON, a topic count, length-prefixed topic
// lines, and the length-prefixed filter server list.
func javaCompressedBody(dataVersion string, topicLines []string, filters string) []byte {
	var raw bytes.Buffer
	put := func(s string) {
		binary.Write(&raw, binary.BigEndian, int32(len(s)))
		raw.WriteString(s)
	}
	put(dataVersion)
	binary.Write(&raw, binary.BigEndian, int32(len(topicLines)))
	for _, l := range topicLines {
		put(l)
	}
	put(filters)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes()
}
