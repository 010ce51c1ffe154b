// Package svctest holds what the services' tests share: building event
// messages as a consumer receives them, serving a service's routes, JSON
// requests, and waiting for an outcome.
package svctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/httpx"
)

// Message returns payload as a consumer would receive it from topic, with
// a fresh message ID: two calls with one payload are two deliveries of the
// same fact. The payloads of package events always encode.
func Message(topic, tag string, payload events.Payload) *client.MessageExt {
	body, err := events.Encode(payload)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	m := &protocol.Message{Topic: topic, Body: body, BornTimestamp: time.Now().UnixMilli(),
		Properties: protocol.MarshalProperties(map[string]string{protocol.PropertyTags: tag})}
	return &client.MessageExt{Message: m, MsgID: hex.EncodeToString(id)}
}

// Deliver hands msgs to h one at a time and fails the test on an error.
func Deliver(t testing.TB, h client.Handler, msgs ...*client.MessageExt) {
	t.Helper()
	for _, m := range msgs {
		if err := h(context.Background(), []*client.MessageExt{m}); err != nil {
			t.Fatalf("deliver %s: %v", m.Tags(), err)
		}
	}
}

// Serve serves routes behind httpx's router until the test ends and
// returns the base URL.
func Serve(t testing.TB, routes func(chi.Router)) string {
	t.Helper()
	r := httpx.NewRouter(nil)
	routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Do sends body (a string is sent as is, anything else as JSON) and
// decodes the answer into out when out is not nil. It returns the status
// and the raw answer.
func Do(t testing.TB, method, url string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

// ErrorCode returns the code of a JSON error body ("" if it is not one).
func ErrorCode(raw string) string {
	var b struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal([]byte(raw), &b)
	return b.Error.Code
}

// WaitFor polls cond until it holds or d passes, then fails naming what.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Collect consumes topic with a group of its own from the first message
// and returns the channel of what arrives. It stops when the test ends.
func Collect(t testing.TB, namesrv, group, topic, expr string) <-chan *client.MessageExt {
	t.Helper()
	ch := make(chan *client.MessageExt, 10000)
	c, err := client.NewPushConsumer(group, client.WithNameServers(namesrv), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe(topic, expr, func(_ context.Context, msgs []*client.MessageExt) error {
		for _, m := range msgs {
			ch <- m
		}
		return nil
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("collect %s: %v", topic, err)
	}
	t.Cleanup(func() { c.Close() })
	return ch
}
