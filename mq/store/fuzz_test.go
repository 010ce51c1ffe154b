package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// FuzzRecoverScan corrupts the commit log of a closed store at a chosen
// offset, forces crash recovery and checks that Open never panics, that
// whatever it keeps is intact, and that nothing before the damage is lost.
func FuzzRecoverScan(f *testing.F) {
	f.Add(uint16(0), []byte{})                                     // no change
	f.Add(uint16(300), []byte{0, 0, 0, 0, 0, 0, 0, 0})             // a torn record: zeros mid-record
	f.Add(uint16(250), []byte{0xde, 0xad, 0xbe, 0xef})             // garbage magic
	f.Add(uint16(0), []byte{0x7f, 0xff, 0xff, 0xff})               // a huge TOTALSIZE
	f.Add(uint16(180), []byte{0, 0, 0, 9, 0xcb, 0xd4, 0x31, 0x94}) // a blank marker with a wrong size
	f.Add(uint16(2000), []byte("trailing garbage past the end"))
	f.Fuzz(func(t *testing.T, at uint16, patch []byte) {
		cfg := testConfig(t)
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var ends []int64
		for i := range 12 {
			r := put(t, s, newMsg("F", int32(i%2), fmt.Sprint("message-", i), map[string]string{"KEYS": fmt.Sprint("k", i)}))
			ends = append(ends, r.Offsets[0]+int64(r.Bytes))
		}
		s.Close()
		path := filepath.Join(cfg.Dir, "commitlog", segmentName(0))
		fh, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if int64(at)+int64(len(patch)) > cfg.SegmentSize {
			patch = patch[:max(0, int(cfg.SegmentSize)-int(at))]
		}
		fh.WriteAt(patch, int64(at))
		fh.Close()
		// A crash before any checkpoint covered these records: recovery
		// must check every one of them.
		os.WriteFile(filepath.Join(cfg.Dir, abortFile), []byte("open\n"), 0o644)
		os.Remove(filepath.Join(cfg.Dir, "checkpoint"))

		s2, err := Open(cfg)
		if err != nil {
			return // refusing is fine; panicking is not
		}
		defer s2.Close()
		kept := 0
		for q := range int32(2) {
			res, err := s2.GetMessages(GetRequest{Topic: "F", QueueID: q, MaxCount: 100})
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := protocol.DecodeMessages(res.Body)
			if err != nil {
				t.Fatalf("recovered queue %d unreadable: %v", q, err)
			}
			for _, m := range msgs {
				if _, err := protocol.DecodeMessage(mustRecord(t, s2, m.PhysicalOffset), true); err != nil {
					t.Fatalf("kept a record that fails its check: %v", err)
				}
			}
			kept += len(msgs)
		}
		intact := 0
		for _, e := range ends {
			if e <= int64(at) || len(patch) == 0 {
				intact++
			}
		}
		if kept < intact {
			t.Fatalf("kept %d messages, but %d ended before the damage at %d", kept, intact, at)
		}
	})
}
