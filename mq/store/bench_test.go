package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/surge-mq/surge/mq/protocol"
)

// Benchmarks of the store. docs/perf.md has the figures, the commands and
// the machine they were measured on.
//
// Stores use the default 1 GiB commit-log segments, as in production; every
// benchmark's store lives in its own b.TempDir and is removed after it.
// Throughput (MB/s) counts message bodies, the bytes producers send; records
// add about 150 bytes of header, topic and properties to each.

const benchTopic = "BenchTopic"

func openBenchStore(b *testing.B, dir string, flush FlushType) *Store {
	b.Helper()
	s, err := Open(Config{Dir: dir, FlushType: flush, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchProducer makes the messages of one producer: a random body of a
// fixed size, a tag and a unique key (so the index has an entry for each,
// as in production). Not safe for concurrent use.
type benchProducer struct {
	queueID int32
	body    []byte
	id, seq uint64
	props   []byte
}

func newBenchProducer(id int, queueID int32, size int) *benchProducer {
	body := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(id), 1))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	return &benchProducer{queueID: queueID, body: body, id: uint64(id)}
}

// next returns a new message, as the broker would decode one from a
// request: the store computes its CRC and fills in its offsets.
func (p *benchProducer) next() *protocol.Message {
	p.seq++
	var key [16]byte
	binary.BigEndian.PutUint64(key[:], p.id)
	binary.BigEndian.PutUint64(key[8:], p.seq)
	p.props = append(p.props[:0], "TAGS\x01TagA\x02UNIQ_KEY\x01"...)
	p.props = hex.AppendEncode(p.props, key[:])
	p.props = append(p.props, 2)
	return &protocol.Message{
		Topic:         benchTopic,
		QueueID:       p.queueID,
		Body:          p.body,
		Properties:    string(p.props),
		BornTimestamp: 1700000000000,
		BornHost:      netip.MustParseAddrPort("10.0.0.2:5555"),
	}
}

// BenchmarkAppend measures PutMessage from concurrent appenders, each
// writing its own queue. One iteration is a round of messages spread evenly
// over the appenders (1024 in all, at least 64 each), which all finish
// before the next round starts; read the figures as MB/s and msgs/s.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{128, 1 << 10, 4 << 10} {
		for _, n := range []int{1, 4} {
			b.Run(fmt.Sprintf("flush=async/size=%s/appenders=%d", sizeName(size), n), func(b *testing.B) {
				benchAppend(b, AsyncFlush, size, n)
			})
		}
	}
	// SYNC_FLUSH: each append waits for its msync; 64 appenders share them
	// (group commit). Compare with BenchmarkFsync.
	b.Run("flush=sync/size=1KiB/appenders=64", func(b *testing.B) {
		benchAppend(b, SyncFlush, 1<<10, 64)
	})
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func benchAppend(b *testing.B, flush FlushType, size, appenders int) {
	s := openBenchStore(b, b.TempDir(), flush)
	producers := make([]*benchProducer, appenders)
	for w := range producers {
		producers[w] = newBenchProducer(w, int32(w), size)
	}
	per := max(1024/appenders, 64)
	b.SetBytes(int64(per * appenders * size))
	ctx := context.Background()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, p := range producers {
			wg.Go(func() {
				for range per {
					if _, err := s.PutMessage(ctx, p.next()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
	}
	b.ReportMetric(float64(b.N*per*appenders)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkFsync measures the disk's own rate of durable 1 KiB appends, one
// at a time, in a preallocated 64 MiB file on the file system of the
// append benchmarks' stores: the cost SYNC_FLUSH would pay per message
// without group commit. msync is the store's way (a mapped segment, as
// createSegment makes it); fdatasync after pwrite is the usual one.
func BenchmarkFsync(b *testing.B) {
	const fileSize = 64 << 20
	buf := make([]byte, 1<<10)
	b.Run("method=msync/size=1KiB", func(b *testing.B) {
		seg, err := createSegment(b.TempDir(), 0, fileSize)
		if err != nil {
			b.Fatal(err)
		}
		defer seg.remove()
		b.SetBytes(int64(len(buf)))
		off := int64(0)
		for b.Loop() {
			copy(seg.data[off:], buf)
			if err := seg.sync(off, off+int64(len(buf))); err != nil {
				b.Fatal(err)
			}
			off = (off + int64(len(buf))) % fileSize
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
	b.Run("method=fdatasync/size=1KiB", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := preallocate(f, fileSize); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(buf)))
		off := int64(0)
		for b.Loop() {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			off = (off + int64(len(buf))) % fileSize
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
}

// BenchmarkGetMessages measures reads of 32 messages of 1 KiB from one
// queue of 128 Ki messages (128 MiB, in the page cache), walked in order
// and over again.
func BenchmarkGetMessages(b *testing.B) {
	b.Run("size=1KiB/batch=32", func(b *testing.B) {
		const n, batch, size = 128 << 10, 32, 1 << 10
		s := openBenchStore(b, b.TempDir(), AsyncFlush)
		p := newBenchProducer(0, 0, size)
		for range n {
			if _, err := s.PutMessage(context.Background(), p.next()); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(batch * size)
		off := int64(0)
		for b.Loop() {
			res, err := s.GetMessages(GetRequest{Topic: benchTopic, QueueID: 0, Offset: off, MaxCount: batch})
			if err != nil || res.Count != batch {
				b.Fatalf("read at %d: %v, %d messages, %v", off, res.Status, res.Count, err)
			}
			if off = res.NextOffset; off+batch > n {
				off = 0
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkRecover1GiB measures Open after a crash (the abort marker is
// there) of a store whose commit log holds 1 GiB of 1 KiB messages over 8
// queues:
//
//   - checkpoint=32MiB-behind: the last checkpoint was taken 32 MiB before
//     the end, so recovery checks the records after it and rewrites their
//     consume-queue entries (the usual crash);
//   - checkpoint=none: no checkpoint, so every record of the log is read,
//     CRC-checked and its entry rewritten (the worst case);
//   - checkpoint=none/queues=lost: the consume queues are gone as well and
//     are rebuilt from the log.
//
// cache=warm leaves the store's files in the page cache, as after a process
// crash; cache=cold drops them first (posix_fadvise), as after a reboot.
func BenchmarkRecover1GiB(b *testing.B) {
	const size, queues, behind = 1 << 10, 8, 32 << 20
	dir := b.TempDir()
	cfg := Config{Dir: dir, StoreHost: netip.MustParseAddrPort("10.0.0.1:10911")}
	p := newBenchProducer(0, 0, size)
	n := 0
	fill := func(to int64) {
		s, err := Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for s.cl.written.Load() < to {
			p.queueID = int32(n % queues)
			if _, err := s.PutMessage(context.Background(), p.next()); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	fill(1<<30 - behind)
	checkpoint, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		b.Fatal(err)
	}
	fill(1 << 30)

	for _, tc := range []struct {
		name       string
		checkpoint bool
		queuesLost bool
		cold       bool
	}{
		{name: "checkpoint=32MiB-behind/cache=warm", checkpoint: true},
		{name: "checkpoint=32MiB-behind/cache=cold", checkpoint: true, cold: true},
		{name: "checkpoint=none/cache=warm"},
		{name: "checkpoint=none/cache=cold", cold: true},
		{name: "checkpoint=none/queues=lost/cache=warm", queuesLost: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				crashBenchStore(b, dir, tc.checkpoint, checkpoint, tc.queuesLost, tc.cold)
				b.StartTimer()
				s, err := Open(cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				total := int64(0)
				for _, q := range s.Queues() {
					total += q.MaxOffset - q.MinOffset
				}
				if total != int64(n) {
					b.Fatalf("recovered %d messages, want %d", total, n)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "msgs/s")
		})
	}
}

// crashBenchStore makes a closed store look crashed: the abort marker, the
// given checkpoint (or none), maybe no consume queues, maybe no page cache.
func crashBenchStore(b *testing.B, dir string, keep bool, checkpoint []byte, queuesLost, cold bool) {
	b.Helper()
	var err error
	if keep {
		err = os.WriteFile(filepath.Join(dir, "checkpoint"), checkpoint, 0o644)
	} else {
		err = os.Remove(filepath.Join(dir, "checkpoint"))
	}
	if err != nil {
		b.Fatal(err)
	}
	if queuesLost {
		if err := os.RemoveAll(filepath.Join(dir, "consumequeue")); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, abortFile), []byte("open\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if !cold {
		return
	}
	// Close synced everything, so the cached pages are clean and
	// POSIX_FADV_DONTNEED drops them.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
	if err != nil {
		b.Fatal(err)
	}
}
