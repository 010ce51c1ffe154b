package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// testConfig is a small store: 64 KiB segments, 100-entry queue files.
func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Dir:                 t.TempDir(),
		SegmentSize:         64 << 10,
		ConsumeQueueEntries: 100,
		MaxMessageSize:      16 << 10,
		IndexSlots:          64,
		IndexEntries:        256,
		StoreHost:           netip.MustParseAddrPort("10.0.0.1:10911"),
	}
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crash stops the store as a killed process would: no checkpoint, the
// abort marker stays.
func (s *Store) crash() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.wg.Wait()
		s.closeFiles()
	})
}

func newMsg(topic string, qid int32, body string, props map[string]string) *protocol.Message {
	return &protocol.Message{
		Topic:         topic,
		QueueID:       qid,
		Body:          []byte(body),
		Properties:    protocol.MarshalProperties(props),
		BornTimestamp: 1700000000000,
		BornHost:      netip.MustParseAddrPort("10.0.0.2:5555"),
		Flag:          7,
	}
}

func put(t *testing.T, s *Store, m *protocol.Message) PutResult {
	t.Helper()
	res, err := s.PutMessage(context.Background(), m)
	if err != nil {
		t.Fatalf("PutMessage: %v", err)
	}
	return res
}

// readAll returns every message of a queue from its min offset.
func readAll(t *testing.T, s *Store, topic string, qid int32) []*protocol.Message {
	t.Helper()
	var out []*protocol.Message
	off := s.MinOffset(topic, qid)
	for {
		res, err := s.GetMessages(GetRequest{Topic: topic, QueueID: qid, Offset: off})
		if err != nil {
			t.Fatalf("GetMessages: %v", err)
		}
		if res.Status != Found {
			return out
		}
		msgs, err := protocol.DecodeMessages(res.Body)
		if err != nil {
			t.Fatalf("decode pulled body: %v", err)
		}
		if len(msgs) != res.Count {
			t.Fatalf("count %d, decoded %d", res.Count, len(msgs))
		}
		out = append(out, msgs...)
		off = res.NextOffset
	}
}

func TestStoreRoundTrip(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	props := map[string]string{"TAGS": "TagA", "KEYS": "k1 k2", "UNIQ_KEY": "ID1"}
	m := newMsg("TopicTest", 2, "hello", props)
	m.SysFlag = protocol.FlagCompressed
	m.ReconsumeTimes = 3
	m.PreparedTransactionOffset = 99
	res := put(t, s, m)
	if res.QueueOffset != 0 || res.Offsets[0] != 0 {
		t.Fatalf("first put: %+v", res)
	}
	got := readAll(t, s, "TopicTest", 2)
	if len(got) != 1 {
		t.Fatalf("read %d messages, want 1", len(got))
	}
	g := got[0]
	want := *m
	want.StoreHost = cfg.StoreHost
	if g.Topic != want.Topic || g.QueueID != 2 || string(g.Body) != "hello" || g.Flag != 7 ||
		g.SysFlag != protocol.FlagCompressed || g.ReconsumeTimes != 3 || g.PreparedTransactionOffset != 99 ||
		g.BornHost != want.BornHost || g.StoreHost != cfg.StoreHost || g.BornTimestamp != want.BornTimestamp ||
		g.StoreTimestamp != res.StoreTimestamp || g.QueueOffset != 0 || g.PhysicalOffset != 0 ||
		g.BodyCRC != protocol.BodyChecksum([]byte("hello")) || g.Properties != m.Properties {
		t.Fatalf("round trip:\n got %+v\nwant %+v", g, want)
	}
	byOff, err := s.Message(0)
	if err != nil || string(byOff.Body) != "hello" {
		t.Fatalf("Message(0) = %v, %v", byOff, err)
	}
	if _, err := s.Message(3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Message(3) mid-record: err %v, want ErrNotFound", err)
	}
	if _, err := s.Message(1 << 40); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Message past end: err %v, want ErrNotFound", err)
	}
	if mq, err := s.MessageAtQueueOffset("TopicTest", 2, 0); err != nil || mq.PhysicalOffset != 0 {
		t.Fatalf("MessageAtQueueOffset: %v %v", mq, err)
	}
}

func TestStoreGetStatus(t *testing.T) {
	s := openStore(t, testConfig(t))
	if r, _ := s.GetMessages(GetRequest{Topic: "T", QueueID: 0}); r.Status != NoMatchedLogicQueue {
		t.Fatalf("unknown queue: %v", r.Status)
	}
	for i := range 5 {
		put(t, s, newMsg("T", 0, fmt.Sprint(i), nil))
	}
	tests := []struct {
		name   string
		offset int64
		status GetStatus
		next   int64
		count  int
	}{
		{"found", 0, Found, 5, 5},
		{"middle", 3, Found, 5, 2},
		{"overflow by one", 5, OffsetOverflowOne, 5, 0},
		{"overflow badly, min 0", 9, OffsetOverflowBadly, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.GetMessages(GetRequest{Topic: "T", QueueID: 0, Offset: tc.offset})
			if err != nil || r.Status != tc.status || r.NextOffset != tc.next || r.Count != tc.count || r.MinOffset != 0 || r.MaxOffset != 5 {
				t.Fatalf("got %+v %v", r, err)
			}
		})
	}
	r, _ := s.GetMessages(GetRequest{Topic: "T", QueueID: 0, Offset: 1, MaxCount: 2})
	if r.Count != 2 || r.NextOffset != 3 {
		t.Fatalf("max count: %+v", r)
	}
	r, _ = s.GetMessages(GetRequest{Topic: "T", QueueID: 0, Offset: 0, MaxBytes: 1})
	if r.Count != 1 {
		t.Fatalf("max bytes returns at least one message: %+v", r)
	}
}

func TestStoreTagFilter(t *testing.T) {
	s := openStore(t, testConfig(t))
	for i := range 10 {
		tag := "TagA"
		if i%3 == 0 {
			tag = "TagB"
		}
		put(t, s, newMsg("T", 1, fmt.Sprint(i), map[string]string{"TAGS": tag}))
	}
	r, _ := s.GetMessages(GetRequest{Topic: "T", QueueID: 1, Tags: []int64{protocol.TagHash("TagB")}})
	msgs, _ := protocol.DecodeMessages(r.Body)
	if r.Status != Found || len(msgs) != 4 || r.NextOffset != 10 {
		t.Fatalf("TagB: %+v", r)
	}
	for _, m := range msgs {
		if m.Property("TAGS") != "TagB" {
			t.Fatalf("filter let through %q", m.Property("TAGS"))
		}
	}
	r, _ = s.GetMessages(GetRequest{Topic: "T", QueueID: 1, Tags: []int64{protocol.TagHash("TagC")}})
	if r.Status != NoMatchedMessage || r.NextOffset != 10 {
		t.Fatalf("no match: %+v", r)
	}
}

func TestCommitLogRollover(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	body := bytes.Repeat([]byte("x"), 3000)
	const n = 100 // ~300 KiB over 64 KiB segments
	for i := range n {
		m := newMsg("Roll", int32(i%2), string(body), map[string]string{"KEYS": fmt.Sprintf("key-%d", i)})
		res := put(t, s, m)
		seg := res.Offsets[0] / cfg.SegmentSize
		end := res.Offsets[0] + int64(res.Bytes)
		if (end-1)/cfg.SegmentSize != seg {
			t.Fatalf("message %d straddles segments: %d..%d", i, res.Offsets[0], end)
		}
	}
	files, _ := os.ReadDir(filepath.Join(cfg.Dir, "commitlog"))
	if len(files) < 5 {
		t.Fatalf("%d segments, want several", len(files))
	}
	check := func(s *Store) {
		t.Helper()
		total := 0
		for q := range int32(2) {
			msgs := readAll(t, s, "Roll", q)
			for i, m := range msgs {
				if m.QueueOffset != int64(i) || len(m.Body) != 3000 {
					t.Fatalf("queue %d message %d: offset %d, %d bytes", q, i, m.QueueOffset, len(m.Body))
				}
			}
			total += len(msgs)
		}
		if total != n {
			t.Fatalf("read %d messages, want %d", total, n)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, cfg)
	check(s2)
	// Appends continue where they stopped.
	res := put(t, s2, newMsg("Roll", 0, "after", nil))
	if res.QueueOffset != n/2 {
		t.Fatalf("queue offset after reopen = %d, want %d", res.QueueOffset, n/2)
	}
}

func TestStoreConcurrentAppendRead(t *testing.T) {
	cfg := testConfig(t)
	cfg.SegmentSize = 256 << 10
	s := openStore(t, cfg)
	const writers, perWriter = 4, 300
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				put(t, s, newMsg("C", int32(w%2), fmt.Sprintf("w%d-%d", w, i), nil))
			}
		})
	}
	var readers sync.WaitGroup
	for q := range int32(2) {
		readers.Go(func() {
			off := int64(0)
			for !done.Load() || off < s.MaxOffset("C", q) {
				r, err := s.GetMessages(GetRequest{Topic: "C", QueueID: q, Offset: off})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Status != Found {
					continue
				}
				msgs, err := protocol.DecodeMessages(r.Body)
				if err != nil {
					t.Errorf("reader saw a broken record: %v", err)
					return
				}
				for _, m := range msgs {
					if m.QueueOffset != off {
						t.Errorf("queue %d: offset %d, want %d", q, m.QueueOffset, off)
						return
					}
					if _, err := protocol.DecodeMessage(mustRecord(t, s, m.PhysicalOffset), true); err != nil {
						t.Errorf("crc: %v", err)
					}
					off++
				}
			}
		})
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	if got := s.MaxOffset("C", 0) + s.MaxOffset("C", 1); got != writers*perWriter {
		t.Fatalf("stored %d, want %d", got, writers*perWriter)
	}
}

func mustRecord(t *testing.T, s *Store, phy int64) []byte {
	rec, err := s.cl.recordAt(phy)
	if err != nil {
		t.Errorf("recordAt(%d): %v", phy, err)
	}
	return rec
}

func TestStoreOffsetByTime(t *testing.T) {
	cfg := testConfig(t)
	var clock atomic.Int64
	clock.Store(1_000_000)
	cfg.Now = func() time.Time { return time.UnixMilli(clock.Add(10)) }
	s := openStore(t, cfg)
	var times []int64
	for i := range 50 {
		times = append(times, put(t, s, newMsg("T", 0, fmt.Sprint(i), nil)).StoreTimestamp)
	}
	for _, tc := range []struct {
		name string
		ts   int64
		want int64
	}{
		{"before all", 0, 0},
		{"exact first", times[0], 0},
		{"exact 17", times[17], 17},
		{"between 17 and 18", times[17] + 1, 18},
		{"after all", times[49] + 1, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.OffsetByTime("T", 0, tc.ts)
			if err != nil || got != tc.want {
				t.Fatalf("OffsetByTime(%d) = %d, %v; want %d", tc.ts, got, err, tc.want)
			}
		})
	}
	if ts, err := s.EarliestStoreTime("T", 0); err != nil || ts != times[0] {
		t.Fatalf("EarliestStoreTime = %d, %v", ts, err)
	}
}

func TestStoreQueryByKey(t *testing.T) {
	cfg := testConfig(t)
	s := openStore(t, cfg)
	for i := range 20 {
		put(t, s, newMsg("K", 0, fmt.Sprint(i), map[string]string{"KEYS": fmt.Sprintf("order-%d shared", i), "UNIQ_KEY": fmt.Sprintf("U%d", i)}))
	}
	put(t, s, newMsg("Other", 0, "x", map[string]string{"KEYS": "shared"}))
	waitIndexed(t, s)
	got, err := s.QueryByKey("K", "order-7", 10, 0, 1<<62)
	if err != nil || len(got) != 1 || string(got[0].Body) != "7" {
		t.Fatalf("by key: %v %v", got, err)
	}
	got, _ = s.QueryByKey("K", "U12", 10, 0, 1<<62)
	if len(got) != 1 || string(got[0].Body) != "12" {
		t.Fatalf("by unique key: %v", got)
	}
	got, _ = s.QueryByKey("K", "shared", 5, 0, 1<<62)
	if len(got) != 5 {
		t.Fatalf("max 5: got %d", len(got))
	}
	for _, m := range got {
		if m.Topic != "K" {
			t.Fatalf("other topic leaked: %s", m.Topic)
		}
	}
	if got, _ := s.QueryByKey("K", "nope", 5, 0, 1<<62); len(got) != 0 {
		t.Fatalf("unknown key: %v", got)
	}
}

func waitIndexed(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.indexedTo.Load() < s.cl.written.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("index stuck at %d of %d", s.indexedTo.Load(), s.cl.written.Load())
		}
		wake(s.indexWake)
		time.Sleep(time.Millisecond)
	}
}

func TestStoreBadInput(t *testing.T) {
	s := openStore(t, testConfig(t))
	ctx := context.Background()
	_, err := s.PutMessage(ctx, newMsg("bad topic!", 0, "x", nil))
	if !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("invalid topic: %v", err)
	}
	_, err = s.PutMessage(ctx, newMsg(string(bytes.Repeat([]byte("t"), 128)), 0, "x", nil))
	if !errors.Is(err, ErrInvalidTopic) {
		t.Fatalf("long topic: %v", err)
	}
	_, err = s.PutMessage(ctx, newMsg("T", 0, string(make([]byte, 17<<10)), nil))
	if !errors.Is(err, ErrMessageTooLarge) || !bytes.Contains([]byte(err.Error()), []byte("maxMessageSize")) {
		t.Fatalf("too large: %v", err)
	}
	if s.MaxOffset("T", 0) != 0 || s.cl.written.Load() != 0 {
		t.Fatal("a refused message left a trace")
	}
}

func TestStoreDiskFull(t *testing.T) {
	cfg := testConfig(t)
	var usage atomic.Value
	usage.Store(0.5)
	cfg.DiskUsage = func(string) (float64, error) { return usage.Load().(float64), nil }
	s := openStore(t, cfg)
	put(t, s, newMsg("T", 0, "before", nil))
	usage.Store(0.95)
	s.checkDisk()
	_, err := s.PutMessage(context.Background(), newMsg("T", 0, "refused", nil))
	if !errors.Is(err, ErrDiskFull) || !bytes.Contains([]byte(err.Error()), []byte("diskSpaceWarningLevelRatio=90")) {
		t.Fatalf("disk full: %v", err)
	}
	if msgs := readAll(t, s, "T", 0); len(msgs) != 1 {
		t.Fatalf("reads must keep working: %d messages", len(msgs))
	}
	usage.Store(0.5)
	s.checkDisk()
	put(t, s, newMsg("T", 0, "after", nil))
	if msgs := readAll(t, s, "T", 0); len(msgs) != 2 || string(msgs[1].Body) != "after" {
		t.Fatalf("after recovery from full disk: %d", len(msgs))
	}
}

func TestStoreForeignFormat(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "commitlog"), 0o755)
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrForeignFormat) {
		t.Fatalf("store dir with a commitlog but no FORMAT: %v", err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("something else 9\n"), 0o644)
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrForeignFormat) {
		t.Fatalf("other format version: %v", err)
	}
	cfg := testConfig(t)
	s := openStore(t, cfg)
	put(t, s, newMsg("T", 0, "x", nil))
	s.Close()
	os.WriteFile(filepath.Join(filepath.Join(cfg.Dir, "commitlog"), "notes.txt"), []byte("hi"), 0o644)
	if _, err := Open(cfg); !errors.Is(err, ErrForeignFormat) {
		t.Fatalf("unexpected file in commitlog dir: %v", err)
	}
}

func TestStoreConfigValidate(t *testing.T) {
	cfg := Config{SegmentSize: 100, MaxMessageSize: 1 << 20, DiskHardWatermark: 120, DeleteWhen: []int{25}}
	cfg.SetDefaults()
	err := cfg.Validate()
	for _, want := range []string{"storePathRootDir", "mappedFileSizeCommitLog", "maxMessageSize", "diskSpaceWarningLevelRatio", "deleteWhen"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
}

func TestRetention(t *testing.T) {
	cfg := testConfig(t)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	cfg.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	cfg.FileReservedTime = time.Hour
	cfg.DeleteWhen = []int{now.Hour()}
	cfg.ConsumeQueueEntries = 10
	s := openStore(t, cfg)
	body := string(bytes.Repeat([]byte("r"), 4000))
	for i := range 60 {
		put(t, s, newMsg("R", 0, body, map[string]string{"KEYS": fmt.Sprint("k", i)}))
	}
	segs := len(s.cl.segs)
	if n, err := s.Clean(); err != nil || n != 0 {
		t.Fatalf("nothing expired yet: deleted %d, %v", n, err)
	}
	clock.Add(int64(2 * time.Hour)) // same hour-of-day check below uses now+2h
	cfg.DeleteWhen[0] = time.Unix(0, clock.Load()).Hour()
	n, err := s.Clean()
	if err != nil || n == 0 || n != min(segs-1, maxDeletePerRound) {
		t.Fatalf("Clean deleted %d of %d segments, %v", n, segs, err)
	}
	if len(s.cl.segs) == 0 {
		t.Fatal("the active segment was deleted")
	}
	clMin := s.cl.minOffset()
	minQ := s.MinOffset("R", 0)
	if minQ == 0 {
		t.Fatal("queue min offset did not move")
	}
	r, _ := s.GetMessages(GetRequest{Topic: "R", QueueID: 0, Offset: 0})
	if r.Status != OffsetTooSmall || r.NextOffset != minQ {
		t.Fatalf("read below min: %+v", r)
	}
	msgs := readAll(t, s, "R", 0)
	if len(msgs) != 60-int(minQ) || msgs[0].PhysicalOffset < clMin {
		t.Fatalf("after retention read %d messages from %d", len(msgs), minQ)
	}
	cqFiles, _ := os.ReadDir(cqDir(s.cqRoot(), "R", 0))
	if len(cqFiles) >= 6 {
		t.Fatalf("consume-queue files below the minimum were kept: %d", len(cqFiles))
	}
	// Reopen keeps the moved minimum.
	s.Close()
	s2 := openStore(t, cfg)
	if got := s2.MinOffset("R", 0); got != minQ {
		t.Fatalf("min offset after reopen = %d, want %d", got, minQ)
	}
}

func TestRetentionForcedByDisk(t *testing.T) {
	cfg := testConfig(t)
	cfg.DeleteWhen = []int{(time.Now().Hour() + 12) % 24} // not now
	var usage atomic.Value
	usage.Store(0.5)
	cfg.DiskUsage = func(string) (float64, error) { return usage.Load().(float64), nil }
	s := openStore(t, cfg)
	body := string(bytes.Repeat([]byte("f"), 4000))
	for range 40 {
		put(t, s, newMsg("F", 0, body, nil))
	}
	if n, _ := s.Clean(); n != 0 {
		t.Fatalf("deleted %d segments at 50%% usage", n)
	}
	usage.Store(0.87) // above diskSpaceCleanForciblyRatio, below the hard watermark
	if n, _ := s.Clean(); n != 1 {
		t.Fatalf("forced clean deleted %d segments, want the oldest one", n)
	}
}
