package store

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// checkpointData is the store's checkpoint file: how far derived data
// (consume queues, index) is durable, and each queue's length, so that a
// queue whose files went missing is noticed and rebuilt.
type checkpointData struct {
	Format int `json:"format"`
	// CommitLogEnd is the end of the commit log when the checkpoint was
	// taken; after a clean shutdown it is exactly where appends resume.
	CommitLogEnd int64 `json:"commitLogEnd"`
	// ConsumeQueueOffset: every record below it has a durable entry.
	ConsumeQueueOffset int64 `json:"consumeQueueOffset"`
	// IndexOffset: every record below it is in the durable index.
	IndexOffset int64             `json:"indexOffset"`
	Queues      []checkpointQueue `json:"queues"`
}

type checkpointQueue struct {
	Topic     string `json:"topic"`
	QueueID   int32  `json:"queueId"`
	MaxOffset int64  `json:"maxOffset"`
}

func writeCheckpoint(path string, cp *checkpointData) error {
	sort.Slice(cp.Queues, func(i, j int) bool {
		a, b := cp.Queues[i], cp.Queues[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.QueueID < b.QueueID
	})
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := writeFileSync(path, b); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// readCheckpoint returns the checkpoint, or nil if there is none.
func readCheckpoint(path string) (*checkpointData, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var cp checkpointData
	if err := json.Unmarshal(b, &cp); err != nil || cp.Format != 1 {
		return nil, &CorruptError{File: path, Reason: fmt.Sprintf("unreadable checkpoint (format %d, %v)", cp.Format, err)}
	}
	return &cp, nil
}
