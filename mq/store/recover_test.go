package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// fillAndCrash writes n messages over two queues, then crashes the store.
func fillAndCrash(t *testing.T, cfg Config, n int) []PutResult {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var res []PutResult
	for i := range n {
		res = append(res, put(t, s, newMsg("Rec", int32(i%2), fmt.Sprintf("body-%03d", i), map[string]string{"KEYS": fmt.Sprint("key", i), "TAGS": "T"})))
	}
	s.crash()
	return res
}

func lastSegmentPath(t *testing.T, cfg Config) string {
	t.Helper()
	dir := filepath.Join(cfg.Dir, "commitlog")
	files, _ := os.ReadDir(dir)
	var last string
	for _, f := range files {
		if filepath.Ext(f.Name()) == "" {
			last = filepath.Join(dir, f.Name())
		}
	}
	return last
}

func countAll(t *testing.T, s *Store) (int, []*protocol.Message) {
	t.Helper()
	var all []*protocol.Message
	for q := range int32(2) {
		msgs := readAll(t, s, "Rec", q)
		for i, m := range msgs {
			if m.QueueOffset != int64(i) {
				t.Fatalf("queue %d: message %d has offset %d", q, i, m.QueueOffset)
			}
			if _, err := protocol.DecodeMessage(mustRecord(t, s, m.PhysicalOffset), true); err != nil {
				t.Fatalf("recovered record fails its CRC: %v", err)
			}
		}
		all = append(all, msgs...)
	}
	return len(all), all
}

func TestRecoverCleanCrash(t *testing.T) {
	cfg := testConfig(t)
	fillAndCrash(t, cfg, 50)
	s := openStore(t, cfg)
	if n, _ := countAll(t, s); n != 50 {
		t.Fatalf("recovered %d messages, want 50", n)
	}
	if res := put(t, s, newMsg("Rec", 0, "next", nil)); res.QueueOffset != 25 {
		t.Fatalf("next queue offset %d, want 25", res.QueueOffset)
	}
}

func TestRecoverTornTail(t *testing.T) {
	cfg := testConfig(t)
	res := fillAndCrash(t, cfg, 50)
	last := res[len(res)-1]
	// Tear the last record: zero its second half, as a crash mid-write
	// would leave it.
	f, err := os.OpenFile(lastSegmentPath(t, cfg), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := last.Offsets[0] % cfg.SegmentSize
	f.WriteAt(make([]byte, last.Bytes/2), off+int64(last.Bytes/2))
	f.Close()
	s := openStore(t, cfg)
	n, _ := countAll(t, s)
	if n != 49 {
		t.Fatalf("after a torn tail recovered %d messages, want 49", n)
	}
	if s.cl.written.Load() != last.Offsets[0] {
		t.Fatalf("commit log end %d, want %d (start of the torn record)", s.cl.written.Load(), last.Offsets[0])
	}
	// The queue that lost its last message continues at the right offset.
	if r := put(t, s, newMsg("Rec", 1, "again", nil)); r.QueueOffset != 24 {
		t.Fatalf("queue offset after torn tail = %d, want 24", r.QueueOffset)
	}
	broken, _ := filepath.Glob(filepath.Join(cfg.Dir, "commitlog", "*.broken"))
	if len(broken) != 1 {
		t.Fatalf("dropped bytes were not kept aside: %v", broken)
	}
}

func TestRecoverGarbageTail(t *testing.T) {
	cfg := testConfig(t)
	res := fillAndCrash(t, cfg, 30)
	last := res[len(res)-1]
	end := (last.Offsets[0] + int64(last.Bytes)) % cfg.SegmentSize
	f, _ := os.OpenFile(lastSegmentPath(t, cfg), os.O_RDWR, 0)
	f.WriteAt(bytes.Repeat([]byte{0xAB}, 500), end)
	f.Close()
	s := openStore(t, cfg)
	if n, _ := countAll(t, s); n != 30 {
		t.Fatalf("after a garbage tail recovered %d messages, want 30", n)
	}
	// The garbage is gone: a second crash and recovery sees a clean end.
	r := put(t, s, newMsg("Rec", 0, "short", nil))
	s.crash()
	s2 := openStore(t, cfg)
	if n, _ := countAll(t, s2); n != 31 {
		t.Fatalf("second recovery: %d messages, want 31", n)
	}
	if s2.cl.written.Load() != r.Offsets[0]+int64(r.Bytes) {
		t.Fatalf("stale garbage resurrected: end %d", s2.cl.written.Load())
	}
}

func TestRecoverBadCRC(t *testing.T) {
	cfg := testConfig(t)
	res := fillAndCrash(t, cfg, 10)
	// Flip a body byte of message 7: it and everything after are dropped.
	m7 := res[7]
	path := lastSegmentPath(t, cfg)
	data, _ := os.ReadFile(path)
	at := bytes.Index(data, []byte("body-007"))
	if at < int(m7.Offsets[0]%cfg.SegmentSize) {
		t.Fatal("body of message 7 not found")
	}
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.WriteAt([]byte{'X'}, int64(at))
	f.Close()
	s := openStore(t, cfg)
	if n, _ := countAll(t, s); n != 7 {
		t.Fatalf("after a CRC error in message 7 kept %d messages, want 7", n)
	}
}

func TestRecoverMissingConsumeQueue(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.ConsumeQueueEntries = 10
			s, _ := Open(cfg)
			for i := range 60 {
				put(t, s, newMsg("Rec", int32(i%2), fmt.Sprint(i), nil))
			}
			if crash {
				s.flushAll(false) // a checkpoint that lists the queues
				s.crash()
			} else {
				s.Close()
			}
			// Lose a whole queue, and one file in the middle of the other.
			os.RemoveAll(cqDir(filepath.Join(cfg.Dir, "consumequeue"), "Rec", 0))
			os.Remove(filepath.Join(cqDir(filepath.Join(cfg.Dir, "consumequeue"), "Rec", 1), segmentName(10*cqEntrySize)))
			s2 := openStore(t, cfg)
			if n, _ := countAll(t, s2); n != 60 {
				t.Fatalf("rebuilt %d messages, want 60", n)
			}
		})
	}
}

func TestRecoverNoCheckpoint(t *testing.T) {
	cfg := testConfig(t)
	fillAndCrash(t, cfg, 40)
	os.Remove(filepath.Join(cfg.Dir, "checkpoint"))
	os.RemoveAll(filepath.Join(cfg.Dir, "consumequeue"))
	s := openStore(t, cfg)
	if n, _ := countAll(t, s); n != 40 {
		t.Fatalf("rebuilt %d messages, want 40", n)
	}
}

func TestRecoverIndexRebuilt(t *testing.T) {
	cfg := testConfig(t)
	fillAndCrash(t, cfg, 30)
	os.RemoveAll(filepath.Join(cfg.Dir, "index"))
	s := openStore(t, cfg)
	waitIndexed(t, s)
	got, err := s.QueryByKey("Rec", "key17", 5, 0, 1<<62)
	if err != nil || len(got) != 1 || string(got[0].Body) != "body-017" {
		t.Fatalf("query after index rebuild: %v %v", got, err)
	}
}
