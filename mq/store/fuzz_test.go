package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// FuzzRecoverScan damages the last commit-log segment of a closed store
// (bytes overwritten or appended at a chosen offset), leaves the abort
// marker as a crash would and opens the store. Open must return a store or
// an error, never panic, and not fill the disk. If it opens:
//
//   - every entry of every queue leads to a record that decodes with its
//     body CRC checked;
//   - every message that ended before the first changed byte is still
//     there, at its queue offset, with its body;
//   - the store takes an append at the next queue offset;
//   - after Close it opens again with the same messages.
//
// keepCheckpoint chooses the crash: with it, the checkpoint from before the
// last segment was written (recovery scans from there); without, no
// checkpoint at all (recovery scans the whole log).
func FuzzRecoverScan(f *testing.F) {
	tpl := buildFuzzStore(f)
	last := tpl.lastSegment()
	rel := func(r fuzzRecord) uint16 { return uint16(r.phy - tpl.last) }
	end := last[len(last)-1].end - tpl.last

	f.Add(uint16(0), []byte(nil), true) // no change: a crash after a clean write
	f.Add(uint16(0), []byte(nil), false)
	// A torn record: the second half of the last record never reached the
	// disk.
	torn := last[len(last)-1]
	f.Add(rel(torn)+uint16(torn.size()/2), make([]byte, torn.size()-torn.size()/2), true)
	f.Add(rel(torn)+uint16(torn.size()/2), make([]byte, torn.size()-torn.size()/2), false)
	// Garbage magic in a record in the middle of the segment.
	f.Add(rel(last[1])+4, []byte{0xde, 0xad, 0xbe, 0xef}, true)
	// A huge TOTALSIZE (2 GiB - 1) in the first record of the segment.
	f.Add(rel(last[0]), []byte{0x7f, 0xff, 0xff, 0xff}, true)
	// A blank (end-of-segment) marker of 256 bytes where a record starts:
	// the marker must span the rest of the segment.
	f.Add(rel(last[2]), binary.BigEndian.AppendUint32([]byte{0, 0, 1, 0}, protocol.BlankMagic), false)
	// Garbage appended after the last record.
	f.Add(uint16(end), []byte("garbage appended after the last record"), true)
	// The topic of the first record of a queue turned into "FuzzT/pic"
	// (the CRC covers only the body).
	f.Add(rel(tpl.firstOf(2))+uint16(tpl.firstOf(2).size()-len(tpl.firstOf(2).props)-2-len(fuzzTopic)+5), []byte("/"), true)

	f.Fuzz(func(t *testing.T, at uint16, patch []byte, keepCheckpoint bool) {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(tpl.dir)); err != nil {
			t.Fatal(err)
		}
		// Damage the last segment; damage is the log offset of the first
		// byte that changed.
		path := filepath.Join(dir, "commitlog", segmentName(tpl.last))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := int(at) % len(data)
		patch = patch[:min(len(patch), len(data)-off)]
		damage := tpl.last + int64(len(data))
		for i := range patch {
			if data[off+i] != patch[i] {
				damage = tpl.last + int64(off+i)
				break
			}
		}
		copy(data[off:], patch)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Crash: the abort marker stays; the last checkpoint was taken
		// before the last segment was written, or there is none.
		if err := os.WriteFile(filepath.Join(dir, abortFile), []byte("open\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if keepCheckpoint {
			err = os.WriteFile(filepath.Join(dir, "checkpoint"), tpl.checkpoint, 0o644)
		} else {
			err = os.Remove(filepath.Join(dir, "checkpoint"))
		}
		if err != nil {
			t.Fatal(err)
		}

		cfg := tpl.cfg
		cfg.Dir = dir
		s, err := Open(cfg)
		if n := countFiles(t, dir); n > tpl.files+32 {
			t.Fatalf("recovery left %d files (the store had %d); Open: %v", n, tpl.files, err)
		}
		if err != nil {
			return // refusing to open is allowed; panicking is not
		}
		defer s.Close()
		got := readFuzzStore(t, s)
		for _, r := range tpl.records {
			if r.end > damage {
				continue
			}
			m, ok := got[r.phy]
			switch {
			case !ok:
				t.Fatalf("message at %d (queue %d offset %d) ended before the damage at %d and is gone", r.phy, r.queueID, r.queueOffset, damage)
			case m.QueueID != r.queueID || m.QueueOffset != r.queueOffset || !bytes.Equal(m.Body, r.body):
				t.Fatalf("message at %d: got queue %d offset %d body %q, want queue %d offset %d body %q", r.phy, m.QueueID, m.QueueOffset, m.Body, r.queueID, r.queueOffset, r.body)
			}
		}

		want := s.MaxOffset(fuzzTopic, 0)
		m := fuzzMessage(0, "after recovery")
		res, err := s.PutMessage(context.Background(), m)
		if err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		if res.QueueOffset != want {
			t.Fatalf("append after recovery at queue offset %d, want %d", res.QueueOffset, want)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close after recovery: %v", err)
		}

		s2, err := Open(cfg)
		if err != nil {
			t.Fatalf("a recovered store does not open again: %v", err)
		}
		defer s2.Close()
		again := readFuzzStore(t, s2)
		if len(again) != len(got)+1 || again[res.Offsets[0]] == nil {
			t.Fatalf("reopened store holds %d messages, want the %d recovered ones and the one appended after", len(again), len(got))
		}
		for phy := range got {
			if again[phy] == nil {
				t.Fatalf("message at %d gone after a clean reopen", phy)
			}
		}
	})
}

const fuzzTopic = "FuzzTopic"

// fuzzConfig is the smallest store Validate accepts: 4 KiB segments, a
// dozen records each.
func fuzzConfig() Config {
	return Config{
		SegmentSize:         4096,
		MaxMessageSize:      1024,
		ConsumeQueueEntries: 16,
		IndexSlots:          16,
		IndexEntries:        64,
		StoreHost:           netip.MustParseAddrPort("10.0.0.1:10911"),
		DiskUsage:           func(string) (float64, error) { return 0.1, nil },
	}
}

func fuzzMessage(queueID int32, body string) *protocol.Message {
	return &protocol.Message{
		Topic:         fuzzTopic,
		QueueID:       queueID,
		Body:          []byte(body),
		Properties:    protocol.MarshalProperties(map[string]string{protocol.PropertyKeys: body}),
		BornTimestamp: 1700000000000,
		BornHost:      netip.MustParseAddrPort("10.0.0.2:5555"),
	}
}

// fuzzRecord is a message of the template store.
type fuzzRecord struct {
	phy, end    int64
	queueID     int32
	queueOffset int64
	body        []byte
	props       string
}

func (r fuzzRecord) size() int { return int(r.end - r.phy) }

// fuzzStore is a closed store that every fuzz input starts from.
type fuzzStore struct {
	dir        string
	cfg        Config // without Dir
	checkpoint []byte // taken while only segment 0 held records
	records    []fuzzRecord
	last       int64 // base of the last segment
	files      int
}

// buildFuzzStore writes two segments: queues 0 and 1 in the first, closed
// once (that checkpoint is kept), then more of queues 0 and 1 and the first
// messages of queue 2, which roll over into the second segment.
func buildFuzzStore(f *testing.F) *fuzzStore {
	tpl := &fuzzStore{dir: f.TempDir(), cfg: fuzzConfig()}
	cfg := tpl.cfg
	cfg.Dir = tpl.dir
	put := func(s *Store, q int32, i int) fuzzRecord {
		body := fmt.Sprintf("message-%02d-%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 100+7*i))
		m := fuzzMessage(q, body)
		res, err := s.PutMessage(context.Background(), m)
		if err != nil {
			f.Fatal(err)
		}
		r := fuzzRecord{phy: res.Offsets[0], end: res.Offsets[0] + int64(res.Bytes), queueID: q, queueOffset: res.QueueOffset, body: m.Body, props: m.Properties}
		tpl.records = append(tpl.records, r)
		return r
	}
	s, err := Open(cfg)
	if err != nil {
		f.Fatal(err)
	}
	i := 0
	for ; i < 8; i++ {
		put(s, int32(i%2), i)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	if tpl.checkpoint, err = os.ReadFile(filepath.Join(tpl.dir, "checkpoint")); err != nil {
		f.Fatal(err)
	}
	if s, err = Open(cfg); err != nil {
		f.Fatal(err)
	}
	for ; put(s, int32(i%2), i).phy < cfg.SegmentSize; i++ {
	}
	for j := range 6 {
		put(s, int32((j+2)%3), i+1+j)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	tpl.last = cfg.SegmentSize
	if n := len(tpl.lastSegment()); n != 7 || tpl.records[len(tpl.records)-1].end > 2*cfg.SegmentSize {
		f.Fatalf("template store: %d records in segment 1, want 7 and no third segment", n)
	}
	tpl.files = countFiles(f, tpl.dir)
	return tpl
}

func (tpl *fuzzStore) lastSegment() []fuzzRecord {
	i := slices.IndexFunc(tpl.records, func(r fuzzRecord) bool { return r.phy >= tpl.last })
	return tpl.records[i:]
}

func (tpl *fuzzStore) firstOf(queueID int32) fuzzRecord {
	i := slices.IndexFunc(tpl.records, func(r fuzzRecord) bool { return r.queueID == queueID })
	return tpl.records[i]
}

func countFiles(tb testing.TB, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		n++
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// readFuzzStore reads every queue from its min to its max offset and
// returns the messages by commit-log offset. Every entry must lead to a
// record that decodes with its CRC checked.
func readFuzzStore(t *testing.T, s *Store) map[int64]*protocol.Message {
	t.Helper()
	out := map[int64]*protocol.Message{}
	for _, qi := range s.Queues() {
		for off := qi.MinOffset; off < qi.MaxOffset; {
			res, err := s.GetMessages(GetRequest{Topic: qi.Topic, QueueID: qi.QueueID, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Found || int64(res.Count) != res.NextOffset-off {
				t.Fatalf("queue %s/%d [%d, %d): read at %d: %v, %d messages, next offset %d (an entry without its record)",
					qi.Topic, qi.QueueID, qi.MinOffset, qi.MaxOffset, off, res.Status, res.Count, res.NextOffset)
			}
			for b := res.Body; len(b) > 0; {
				m, err := protocol.DecodeMessage(b, true)
				if err != nil {
					t.Fatalf("queue %s/%d offset %d: recovered record does not decode: %v", qi.Topic, qi.QueueID, off, err)
				}
				if m.Topic != qi.Topic || m.QueueID != qi.QueueID || m.QueueOffset != off {
					t.Fatalf("queue %s/%d offset %d holds the record of %s/%d offset %d", qi.Topic, qi.QueueID, off, m.Topic, m.QueueID, m.QueueOffset)
				}
				if out[m.PhysicalOffset] != nil {
					t.Fatalf("record at %d listed twice", m.PhysicalOffset)
				}
				out[m.PhysicalOffset] = m
				size, _, _ := protocol.RecordSize(b)
				b = b[size:]
				off++
			}
		}
	}
	return out
}
