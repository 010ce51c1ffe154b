package client

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// BenchmarkEncodeBatch32 measures building the body of a batch of 32
// messages of 1 KiB.
func BenchmarkEncodeBatch32(b *testing.B) {
	p := &Producer{cfg: config{group: "g", compressOver: 4096}, ids: newIDGen()}
	msgs := make([]*Message, 32)
	for i := range msgs {
		msgs[i] = &Message{Topic: "T", Body: make([]byte, 1024)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := p.encode(msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIDFormat: unique IDs are 32 upper-case hex digits, as the official
// clients write them, and differ from one another.
func TestIDFormat(t *testing.T) {
	g := newIDGen()
	seen := map[string]bool{}
	for range 1000 {
		id := g.next()
		if len(id) != 32 || strings.ToUpper(id) != id {
			t.Fatalf("id %q", id)
		}
		if _, err := hex.DecodeString(id); err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
}

// TestEncodeBatchRoundTrip: the batch body decodes into the messages sent.
func TestEncodeBatchRoundTrip(t *testing.T) {
	p := &Producer{cfg: config{group: "g", compressOver: 4096}, ids: newIDGen()}
	msgs := []*Message{{Topic: "T", Body: []byte("a"), Tags: "x"}, {Topic: "T", Body: make([]byte, 3000), Keys: []string{"k"}}}
	body, h, _, err := p.encode(msgs)
	if err != nil || !h.Batch {
		t.Fatalf("encode: %v batch=%v", err, h.Batch)
	}
	got, err := protocol.DecodeBatch(body)
	if err != nil || len(got) != 2 || string(got[0].Body) != "a" || len(got[1].Body) != 3000 ||
		protocol.PropertyValue(got[0].Properties, protocol.PropertyTags) != "x" {
		t.Fatalf("decoded %d messages: %v", len(got), err)
	}
}
