package store

import (
	"os"
	"slices"
	"time"
)

// Retention
//
// Commit-log segments older than FileReservedTime (by file modification
// time) are deleted at the DeleteWhen hours, or at any hour once disk usage
// passes DiskMaxUsedSpaceRatio. Past DiskForceCleanRatio the oldest segment
// goes even if it has not expired. The segment being written is never
// deleted. Consume-queue segments and index files wholly below the new
// minimum offset follow, and queue minimum offsets move past the entries
// whose records are gone.
//
// Independently, every second, the disk usage is compared with
// DiskHardWatermark: above it appends fail with ErrDiskFull (reads go on).

// maxDeletePerRound bounds how many segments one clean removes, so that a
// burst of deletions does not stall the disk (deleteFileBatchMax).
const maxDeletePerRound = 10

func (s *Store) retentionLoop() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastClean := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		s.checkDisk()
		if time.Since(lastClean) >= s.cfg.CleanInterval {
			lastClean = time.Now()
			if _, err := s.Clean(); err != nil {
				s.log.Error("retention failed", "err", err)
			}
		}
	}
}

// checkDisk measures disk usage and sets or clears the disk-full state.
func (s *Store) checkDisk() float64 {
	usage, err := s.cfg.DiskUsage(s.cfg.CommitLogDir)
	if err != nil {
		s.log.Warn("disk usage unknown", "err", err)
		return 0
	}
	s.diskUsage.Store(uint64(usage * 10000))
	full := usage*100 >= float64(s.cfg.DiskHardWatermark)
	if was := s.diskFull.Swap(full); was != full {
		if full {
			s.log.Error("disk above the hard watermark, refusing writes", "usedPercent", usage*100, "limit", s.cfg.DiskHardWatermark)
		} else {
			s.log.Info("disk below the hard watermark again, accepting writes", "usedPercent", usage*100)
		}
	}
	return usage
}

// Clean runs one round of retention now and returns how many commit-log
// segments it deleted.
func (s *Store) Clean() (int, error) {
	usage := s.checkDisk() * 100
	now := s.cfg.Now()
	deleteTime := slices.Contains(s.cfg.DeleteWhen, now.Hour())
	expiredOK := deleteTime || usage > float64(s.cfg.DiskMaxUsedSpaceRatio)
	force := usage > float64(s.cfg.DiskForceCleanRatio)

	var doomed []*segment
	s.cl.segsMu.Lock()
	for len(s.cl.segs) > 1 && len(doomed) < maxDeletePerRound {
		seg := s.cl.segs[0]
		expired := false
		if st, err := os.Stat(seg.path); err == nil {
			expired = now.Sub(st.ModTime()) > s.cfg.FileReservedTime
		}
		if !(expired && expiredOK) && !(force && len(doomed) == 0) {
			break
		}
		doomed = append(doomed, seg)
		s.cl.segs = s.cl.segs[1:]
	}
	s.cl.segsMu.Unlock()
	if len(doomed) == 0 {
		return 0, nil
	}
	for _, seg := range doomed {
		s.log.Info("deleting commit-log segment", "file", seg.path, "forced", force, "usedPercent", usage)
		if err := seg.remove(); err != nil {
			return len(doomed), err
		}
	}
	clMin := s.cl.minOffset()
	for _, cq := range s.queueList() {
		if _, err := cq.deleteBelow(clMin); err != nil {
			return len(doomed), err
		}
	}
	if _, err := s.ix.DeleteBelow(clMin); err != nil {
		return len(doomed), err
	}
	return len(doomed), nil
}
