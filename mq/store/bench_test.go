package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
)

// benchStore opens a store with 256 MiB segments (1 GiB is the default;
// smaller keeps benchmark disk use sane and changes nothing per message).
func benchStore(b *testing.B, flush FlushType) *Store {
	b.Helper()
	s, err := Open(Config{Dir: b.TempDir(), FlushType: flush, SegmentSize: 256 << 20, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchMessage(size int) *protocol.Message {
	return &protocol.Message{Topic: "Bench", QueueID: 0, Body: make([]byte, size),
		Properties: "TAGS\x01TagA\x02UNIQ_KEY\x01C0A8000A00002A9F0000000000000000\x02"}
}

// runAppenders runs b.N appends spread over n goroutines.
func runAppenders(b *testing.B, s *Store, size, n int) {
	b.SetBytes(int64(size))
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N / n
	for w := range n {
		count := per
		if w == 0 {
			count += b.N % n
		}
		wg.Go(func() {
			body := make([]byte, size) // a broker's bodies come from frames it already holds
			for range count {
				m := benchMessage(0)
				m.Body = body
				m.QueueID = int32(w % 4)
				if _, err := s.PutMessage(context.Background(), m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{128, 1024, 4096} {
		for _, n := range []int{1, 4} {
			b.Run(fmt.Sprintf("flush=async/size=%dB/appenders=%d", size, n), func(b *testing.B) {
				runAppenders(b, benchStore(b, AsyncFlush), size, n)
			})
		}
	}
	b.Run("flush=sync/size=1024B/appenders=64", func(b *testing.B) {
		runAppenders(b, benchStore(b, SyncFlush), 1024, 64)
	})
}

// BenchmarkFsync measures the disk's own rate of 1 KiB write+msync pairs
// into a preallocated, mapped file next to the store: what one SYNC_FLUSH
// append would cost without group commit.
func BenchmarkFsync(b *testing.B) {
	dir := b.TempDir()
	seg, err := createSegment(dir, 0, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.remove()
	b.SetBytes(1024)
	start := time.Now()
	off := int64(0)
	for b.Loop() {
		copy(seg.data[off:], make([]byte, 1024))
		if err := seg.sync(off, off+1024); err != nil {
			b.Fatal(err)
		}
		off = (off + 1024) % (64<<20 - 1024)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "syncs/s")
}

func BenchmarkGetMessages(b *testing.B) {
	s := benchStore(b, AsyncFlush)
	const n = 100_000
	for range n {
		if _, err := s.PutMessage(context.Background(), benchMessage(1024)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(32 * 1024)
	off := int64(0)
	start := time.Now()
	for b.Loop() {
		res, err := s.GetMessages(GetRequest{Topic: "Bench", QueueID: 0, Offset: off, MaxCount: 32})
		if err != nil || res.Count != 32 {
			b.Fatalf("read at %d: %v %v", off, res.Status, err)
		}
		off = res.NextOffset % (n - 32)
	}
	b.ReportMetric(float64(b.N)*32/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkRecover1GiB times Open after a crash of a store holding 1 GiB of
// 1 KiB messages: with a recent checkpoint (the normal case) and with none
// (every record checked, every consume queue rebuilt).
func BenchmarkRecover1GiB(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Dir: dir, SegmentSize: 256 << 20, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")}
	s, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for range (1 << 30) / 1200 {
		m := benchMessage(1024)
		m.QueueID = int32(len(m.Body) % 4)
		if _, err := s.PutMessage(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	for _, tc := range []struct {
		name       string
		checkpoint bool
	}{{"checkpoint", true}, {"no-checkpoint", false}} {
		b.Run(tc.name, func(b *testing.B) {
			cp, _ := os.ReadFile(filepath.Join(dir, "checkpoint"))
			for b.Loop() {
				os.WriteFile(filepath.Join(dir, abortFile), []byte("open\n"), 0o644)
				if !tc.checkpoint {
					os.Remove(filepath.Join(dir, "checkpoint"))
					os.RemoveAll(filepath.Join(dir, "consumequeue"))
				}
				s, err := Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s.Close()
				os.WriteFile(filepath.Join(dir, "checkpoint"), cp, 0o644)
				b.StartTimer()
			}
		})
	}
}
