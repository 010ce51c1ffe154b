package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// segment is one preallocated, memory-mapped file of a log: a commit-log
// segment or a consume-queue segment. Its name is the 20-digit offset of its
// first byte (commit log) or first entry byte (consume queue) in the log.
//
// The single writer copies into data; readers copy out of it. Whoever
// publishes a write position (an atomic store) makes the bytes below it
// visible to readers that load that position.
type segment struct {
	path string
	base int64 // log offset of data[0]
	n    int64 // mapped size
	f    *os.File
	data []byte

	// mapMu lets the flusher and the warmer, which work outside the
	// segment lists' locks, use the mapping while retention may unmap it:
	// they read-lock it around their syscalls, close write-locks it.
	mapMu sync.RWMutex
}

// tmpSuffix marks a segment file still being created.
const tmpSuffix = ".creating"

func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// parseSegmentName returns the base offset encoded in a segment file name.
func parseSegmentName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(name, 10, 64)
	return n, err == nil && n >= 0
}

// createSegment creates and maps a new segment of size bytes. The blocks are
// reserved with fallocate so that writes never hit ENOSPC through the mapping
// (which would be SIGBUS) and fsyncs stay inside allocated space.
//
// The file is prepared under a temporary name and renamed when complete, so
// a crash in between never leaves a short segment behind.
func createSegment(dir string, base, size int64) (*segment, error) {
	path := filepath.Join(dir, segmentName(base))
	f, err := os.CreateTemp(dir, segmentName(base)+tmpSuffix+"*")
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := preallocate(f, size); err != nil {
		f.Close()
		return nil, err
	}
	// Link fails if the name exists: of two creators of one segment (the
	// appender and the warming goroutine) exactly one wins.
	if err := os.Link(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("create segment: %w", err)
	}
	s, err := mapSegment(f, path, base, size)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return s, nil
}

func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		// Some file systems (tmpfs on old kernels, overlay setups) cannot
		// fallocate; a sparse file still works, without the reservation.
		err = f.Truncate(size)
	}
	if errors.Is(err, unix.ENOSPC) {
		return fmt.Errorf("preallocate %s (%d bytes): %w", f.Name(), size, ErrDiskFull)
	}
	if err != nil {
		return fmt.Errorf("preallocate %s: %w", f.Name(), err)
	}
	return nil
}

// openSegment maps an existing segment, which must be exactly size bytes.
func openSegment(path string, base, size int64) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	if st.Size() != size {
		f.Close()
		return nil, &CorruptError{File: path, Reason: fmt.Sprintf("file is %d bytes, segments are %d (was the segment size changed?)", st.Size(), size)}
	}
	s, err := mapSegment(f, path, base, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func mapSegment(f *os.File, path string, base, size int64) (*segment, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &segment{path: path, base: base, n: size, f: f, data: data}, nil
}

func (s *segment) size() int64 { return s.n }

// end is the log offset just past the segment.
func (s *segment) end() int64 { return s.base + s.n }

// sync makes data[from:to] durable. A segment already unmapped has
// nothing left to sync.
func (s *segment) sync(from, to int64) error {
	if to <= from {
		return nil
	}
	page := int64(os.Getpagesize())
	from -= from % page
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	if s.data == nil {
		return nil
	}
	if err := unix.Msync(s.data[from:to], unix.MS_SYNC); err != nil {
		return fmt.Errorf("msync %s: %w", s.path, err)
	}
	return nil
}

// advise gives the kernel advice on data[from:to]; nothing for a segment
// already unmapped. Errors only cost memory or speed.
func (s *segment) advise(from, to int64, advice int) {
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	if s.data != nil && to > from {
		_ = unix.Madvise(s.data[from:to], advice)
	}
}

// zero clears data[from:] on disk and in memory: recovery uses it to cut a
// torn tail so that stale bytes can never look like records again. Punching
// a hole is a metadata operation; the range is reserved again afterwards.
func (s *segment) zero(from int64) error {
	n := s.size() - from
	if n <= 0 {
		return nil
	}
	fd := int(s.f.Fd())
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, from, n); err != nil {
		clear(s.data[from:])
		return s.sync(from, s.size())
	}
	_ = unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, from, n)
	return nil
}

func (s *segment) close() error {
	s.mapMu.Lock()
	err := unix.Munmap(s.data)
	s.data = nil
	s.mapMu.Unlock()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// remove unmaps and deletes the segment.
func (s *segment) remove() error {
	err := s.close()
	if rerr := os.Remove(s.path); err == nil {
		err = rerr
	}
	return err
}

// listSegments returns the base offsets of the segment files in dir, sorted.
// A file whose name is not a segment name is an error: the directory holds
// something we did not write.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) == ".broken" || e.Name()[0] == '.' {
			continue
		}
		if strings.Contains(e.Name(), tmpSuffix) {
			// A segment whose creation a crash interrupted: it never held data.
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		b, ok := parseSegmentName(e.Name())
		if !ok {
			return nil, fmt.Errorf("%s: %w: unexpected file %q", dir, ErrForeignFormat, e.Name())
		}
		bases = append(bases, b)
	}
	return bases, nil // ReadDir sorts by name; zero padding makes that numeric
}
