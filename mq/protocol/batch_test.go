package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// goBatch is a SEND_BATCH_MESSAGE body as the Go client's Message.Marshal
// writes it: two messages, no UNIQ_KEY, magic and CRC 0.
func goBatch() []byte {
	var b []byte
	for _, m := range []struct {
		flag  uint32
		body  string
		props string
	}{
		{0, "hello", "TAGS\x01TagA\x02"},
		{7, "world!", "KEYS\x01k2\x02TAGS\x01TagB\x02"},
	} {
		rec := make([]byte, 0, 22+len(m.body)+len(m.props))
		rec = binary.BigEndian.AppendUint32(rec, uint32(22+len(m.body)+len(m.props)))
		rec = binary.BigEndian.AppendUint32(rec, 0)
		rec = binary.BigEndian.AppendUint32(rec, 0)
		rec = binary.BigEndian.AppendUint32(rec, m.flag)
		rec = binary.BigEndian.AppendUint32(rec, uint32(len(m.body)))
		rec = append(rec, m.body...)
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(m.props)))
		rec = append(rec, m.props...)
		b = append(b, rec...)
	}
	return b
}

// patch returns a copy of b with f applied.
func patch(b []byte, f func([]byte)) []byte {
	b = bytes.Clone(b)
	f(b)
	return b
}

// batchErrorCases are malformed batch bodies; they also seed FuzzDecodeBatch.
var batchErrorCases = []struct {
	name string
	body []byte
	want error
}{
	{"empty body", nil, ErrTruncated},
	{"shorter than a record header", goBatch()[:21], ErrTruncated},
	{"second record cut short", goBatch()[:len(goBatch())-1], ErrTruncated},
	{"trailing bytes", append(goBatch(), 0, 0), ErrTruncated},
	{"total size too small", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b, 21) }), ErrBadLength},
	{"total size negative", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b, 0x80000000) }), ErrBadLength},
	{"total size larger than fields", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b, 40) }), ErrBadLength},
	{"total size beyond body", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b, 4000) }), ErrTruncated},
	{"body length negative", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b[16:], 0xFFFFFFFF) }), ErrBadLength},
	{"body length past record", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b[16:], 30) }), ErrBadLength},
	{"properties length off by one", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint16(b[25:], 9) }), ErrBadLength},
	{"properties length negative as int16", patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint16(b[25:], 0x8000) }), ErrPropsLength},
}

func TestDecodeBatch(t *testing.T) {
	msgs, err := DecodeBatch(goBatch())
	if err != nil {
		t.Fatal(err)
	}
	want := []BatchMessage{
		{Flag: 0, Body: []byte("hello"), Properties: "TAGS\x01TagA\x02"},
		{Flag: 7, Body: []byte("world!"), Properties: "KEYS\x01k2\x02TAGS\x01TagB\x02"},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("DecodeBatch = %q, want %q", msgs, want)
	}
	for i, m := range msgs {
		if cap(m.Body) != len(m.Body) {
			t.Errorf("message %d: body capacity %d exceeds length %d", i, cap(m.Body), len(m.Body))
		}
	}
}

func TestDecodeBatchIgnoresMagicAndCRC(t *testing.T) {
	// Java's broker skips both fields; so do we.
	b := patch(goBatch(), func(b []byte) {
		binary.BigEndian.PutUint32(b[4:], MessageMagic)
		binary.BigEndian.PutUint32(b[8:], 12345)
	})
	msgs, err := DecodeBatch(b)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("got %d messages, %v", len(msgs), err)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	for _, tt := range batchErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := DecodeBatch(tt.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if msgs != nil {
				t.Errorf("got messages with an error: %q", msgs)
			}
		})
	}
}

func TestAppendBatchMessage(t *testing.T) {
	var b []byte
	var err error
	for _, m := range []BatchMessage{
		{Flag: 0, Body: []byte("hello"), Properties: "TAGS\x01TagA\x02"},
		{Flag: 7, Body: []byte("world!"), Properties: "KEYS\x01k2\x02TAGS\x01TagB\x02"},
	} {
		if b, err = AppendBatchMessage(b, m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(b, goBatch()) {
		t.Errorf("encoded\n%x\nwant the Go client's bytes\n%x", b, goBatch())
	}

	empty, err := AppendBatchMessage(nil, BatchMessage{})
	if err != nil || len(empty) != batchFixedSize {
		t.Errorf("empty message: %d bytes, %v", len(empty), err)
	}
	if msgs, err := DecodeBatch(empty); err != nil || len(msgs) != 1 || len(msgs[0].Body) != 0 {
		t.Errorf("decode empty message: %q, %v", msgs, err)
	}

	max := BatchMessage{Properties: strings.Repeat("p", MaxPropertiesLength)}
	if _, err := AppendBatchMessage(nil, max); err != nil {
		t.Errorf("32767-byte properties: %v", err)
	}
	max.Properties += "p"
	got, err := AppendBatchMessage([]byte("keep"), max)
	if !errors.Is(err, ErrPropsLength) || string(got) != "keep" {
		t.Errorf("32768-byte properties: %q, %v", got, err)
	}
}

// BenchmarkDecodeBatch measures splitting a batch of 32 messages of 1 KiB,
// each with a UNIQ_KEY, as the broker does for every batch send.
func BenchmarkDecodeBatch(b *testing.B) {
	var body []byte
	payload := make([]byte, 1024)
	for i := range 32 {
		var err error
		if body, err = AppendBatchMessage(body, BatchMessage{Body: payload, Properties: fmt.Sprintf("UNIQ_KEY\x01%032X\x02", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if msgs, err := DecodeBatch(body); err != nil || len(msgs) != 32 {
			b.Fatalf("%d messages, %v", len(msgs), err)
		}
	}
}
