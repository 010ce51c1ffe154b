package store

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/surge-mq/surge/mq/protocol"
)

// FlushType selects when appended messages are made durable.
type FlushType int

const (
	// AsyncFlush (RocketMQ's ASYNC_FLUSH) acknowledges an append once it is
	// in the page cache; a background loop syncs every FlushInterval. A
	// process crash loses nothing, a power loss loses at most one interval.
	AsyncFlush FlushType = iota
	// SyncFlush (SYNC_FLUSH) acknowledges an append only once it is on disk.
	// Concurrent appends share one sync (group commit).
	SyncFlush
)

func (t FlushType) String() string {
	if t == SyncFlush {
		return "SYNC_FLUSH"
	}
	return "ASYNC_FLUSH"
}

// ParseFlushType parses RocketMQ's flushDiskType values.
func ParseFlushType(s string) (FlushType, error) {
	switch s {
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	case "SYNC_FLUSH":
		return SyncFlush, nil
	}
	return 0, fmt.Errorf("flushDiskType %q: want ASYNC_FLUSH or SYNC_FLUSH", s)
}

// Config configures a Store. A zero field means its default, which is
// RocketMQ's where RocketMQ has one.
type Config struct {
	// Dir is the store root (storePathRootDir). Required.
	Dir string
	// CommitLogDir holds the commit-log segments (storePathCommitLog).
	// Default Dir/commitlog.
	CommitLogDir string
	// SegmentSize is the size of a commit-log segment in bytes
	// (mappedFileSizeCommitLog). Default 1 GiB.
	SegmentSize int64
	// ConsumeQueueEntries is the number of 20-byte entries per consume-queue
	// segment (mappedFileSizeConsumeQueue / 20). Default 300,000.
	ConsumeQueueEntries int
	// FlushType is ASYNC_FLUSH or SYNC_FLUSH (flushDiskType). Default async.
	FlushType FlushType
	// FlushInterval is how often ASYNC_FLUSH syncs the commit log
	// (flushIntervalCommitLog). Default 500ms.
	FlushInterval time.Duration
	// ConsumeQueueFlushInterval is how often consume queues and the index are
	// synced and the checkpoint written (flushIntervalConsumeQueue).
	// Default 1s.
	ConsumeQueueFlushInterval time.Duration
	// SyncFlushTimeout bounds how long a SYNC_FLUSH append waits for its sync
	// (syncFlushTimeout). Default 5s.
	SyncFlushTimeout time.Duration
	// MaxMessageSize is the largest record accepted, in bytes
	// (maxMessageSize). Default 4 MiB.
	MaxMessageSize int
	// BusyTimeout refuses an append with ErrBusy when the commit-log lock
	// has been held this long (osPageCacheBusyTimeOutMills). Default 1s.
	BusyTimeout time.Duration

	// FileReservedTime is how long commit-log segments are kept
	// (fileReservedTime, hours in broker.conf). Default 72h.
	FileReservedTime time.Duration
	// DeleteWhen lists the hours of the day (0-23) when expired segments are
	// deleted (deleteWhen "04"; several as "04;05"). Default [4].
	DeleteWhen []int
	// DiskMaxUsedSpaceRatio is the disk usage percentage above which expired
	// segments are deleted at once, whatever the hour, and above which the
	// oldest segments go even before they expire once usage passes
	// DiskForceCleanRatio (diskMaxUsedSpaceRatio). Default 75.
	DiskMaxUsedSpaceRatio int
	// DiskForceCleanRatio is the usage percentage above which the oldest
	// segments are deleted even if not expired (diskSpaceCleanForciblyRatio).
	// Default 85.
	DiskForceCleanRatio int
	// DiskHardWatermark is the usage percentage above which appends are
	// refused with ErrDiskFull (diskSpaceWarningLevelRatio). Default 90.
	DiskHardWatermark int
	// CleanInterval is how often retention and the disk check run
	// (cleanResourceInterval). Default 10s; the disk watermark is checked
	// every second regardless.
	CleanInterval time.Duration

	// IndexSlots and IndexEntries size each index file (maxHashSlotNum,
	// maxIndexNum). Defaults 5,000,000 and 20,000,000.
	IndexSlots   int
	IndexEntries int

	// StoreHost is the broker address written into every record; clients
	// derive message IDs from it and send retries to it.
	StoreHost netip.AddrPort

	// TagCode computes a consume-queue entry's tag code from a record. The
	// broker sets it so that delayed messages carry their delivery time.
	// Default: protocol.TagHash of the TAGS property.
	TagCode func(m *protocol.Message) int64
	// OnAppend, if set, is called after messages of a queue became readable,
	// with the queue's new max offset. The broker wakes long polls with it.
	// It runs on the appending goroutine and must not block.
	OnAppend func(topic string, queueID int32, maxOffset int64)

	// Now is the clock (tests replace it). Default time.Now.
	Now func() time.Time
	// DiskUsage reports the used fraction (0..1) of the file system holding
	// path. Default: statfs. Tests replace it to simulate a full disk.
	DiskUsage func(path string) (float64, error)
	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger
}

// DefaultSegmentSize is RocketMQ's mappedFileSizeCommitLog.
const DefaultSegmentSize = 1 << 30

// SetDefaults fills zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.CommitLogDir == "" {
		c.CommitLogDir = filepath.Join(c.Dir, "commitlog")
	}
	setDefault(&c.SegmentSize, DefaultSegmentSize)
	setDefault(&c.ConsumeQueueEntries, 300_000)
	setDefault(&c.FlushInterval, 500*time.Millisecond)
	setDefault(&c.ConsumeQueueFlushInterval, time.Second)
	setDefault(&c.SyncFlushTimeout, 5*time.Second)
	setDefault(&c.MaxMessageSize, 4<<20)
	setDefault(&c.BusyTimeout, time.Second)
	setDefault(&c.FileReservedTime, 72*time.Hour)
	if c.DeleteWhen == nil {
		c.DeleteWhen = []int{4}
	}
	setDefault(&c.DiskMaxUsedSpaceRatio, 75)
	setDefault(&c.DiskForceCleanRatio, 85)
	setDefault(&c.DiskHardWatermark, 90)
	setDefault(&c.CleanInterval, 10*time.Second)
	setDefault(&c.IndexSlots, 5_000_000)
	setDefault(&c.IndexEntries, 20_000_000)
	if c.TagCode == nil {
		c.TagCode = func(m *protocol.Message) int64 {
			return protocol.TagHash(m.Property(protocol.PropertyTags))
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.DiskUsage == nil {
		c.DiskUsage = diskUsage
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Dir == "" {
		bad("storePathRootDir: required")
	}
	if c.SegmentSize < 4096 {
		bad("mappedFileSizeCommitLog %d: below 4096 bytes", c.SegmentSize)
	}
	if int64(c.MaxMessageSize)+blankRecordSize > c.SegmentSize {
		bad("maxMessageSize %d: does not fit a %d-byte commit-log segment (mappedFileSizeCommitLog)", c.MaxMessageSize, c.SegmentSize)
	}
	if c.ConsumeQueueEntries < 1 {
		bad("mappedFileSizeConsumeQueue: must hold at least one entry")
	}
	for _, r := range []struct {
		name string
		v    int
	}{{"diskMaxUsedSpaceRatio", c.DiskMaxUsedSpaceRatio}, {"diskSpaceCleanForciblyRatio", c.DiskForceCleanRatio}, {"diskSpaceWarningLevelRatio", c.DiskHardWatermark}} {
		if r.v < 1 || r.v > 100 {
			bad("%s %d: want a percentage between 1 and 100", r.name, r.v)
		}
	}
	for _, h := range c.DeleteWhen {
		if h < 0 || h > 23 {
			bad("deleteWhen %d: want hours 0-23", h)
		}
	}
	if c.IndexSlots < 1 || c.IndexEntries < 1 {
		bad("maxHashSlotNum and maxIndexNum must be positive")
	}
	return errors.Join(errs...)
}

// ValidTopic reports whether a topic name follows RocketMQ's rule: 1 to 127
// characters of [%|a-zA-Z0-9_-].
func ValidTopic(topic string) error {
	if topic == "" || len(topic) > protocol.MaxTopicLength {
		return fmt.Errorf("%w: %q must be 1 to %d characters", ErrInvalidTopic, topic, protocol.MaxTopicLength)
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has %q; allowed are letters, digits and %%|_-", ErrInvalidTopic, topic, c)
		}
	}
	return nil
}

func diskUsage(path string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	total := float64(st.Blocks) * float64(st.Bsize)
	if total == 0 {
		return 0, nil
	}
	free := float64(st.Bavail) * float64(st.Bsize)
	return 1 - free/total, nil
}
