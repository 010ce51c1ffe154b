package protocol

import (
	"encoding/json"
	"fmt"
)

// ConsumerRunningInfo is the body of a GET_CONSUMER_RUNNING_INFO (307)
// answer: what one consumer client is doing. Admin tools ask it through a
// broker, which relays the request to the client's connection; mqTable
// says which queues the client holds, which is how `consumerProgress`
// names the owner of each queue.
type ConsumerRunningInfo struct {
	// Properties are PROP_* settings (PROP_CONSUME_TYPE, ...).
	Properties map[string]string
	// MQTable holds the queues the client consumes and their state.
	MQTable map[MessageQueue]ProcessQueueInfo
}

// ProcessQueueInfo is one queue of ConsumerRunningInfo.MQTable, with
// Java's field names (its misspelled "droped" included).
type ProcessQueueInfo struct {
	CommitOffset         int64 `json:"commitOffset"`
	CachedMsgMinOffset   int64 `json:"cachedMsgMinOffset"`
	CachedMsgMaxOffset   int64 `json:"cachedMsgMaxOffset"`
	CachedMsgCount       int   `json:"cachedMsgCount"`
	CachedMsgSizeInMiB   int   `json:"cachedMsgSizeInMiB"`
	Locked               bool  `json:"locked"`
	Dropped              bool  `json:"droped"`
	LastPullTimestamp    int64 `json:"lastPullTimestamp"`
	LastConsumeTimestamp int64 `json:"lastConsumeTimestamp"`
}

// Marshal renders i in fastjson's form (mqTable keyed by queue objects).
func (i *ConsumerRunningInfo) Marshal() ([]byte, error) {
	props, err := json.Marshal(i.Properties)
	if err != nil {
		return nil, fmt.Errorf("encode consumer running info: %w", err)
	}
	dst := append([]byte(`{"properties":`), props...)
	dst = append(dst, `,"mqTable":`...)
	if dst, err = appendQueueMap(dst, i.MQTable); err != nil {
		return nil, fmt.Errorf("encode consumer running info: %w", err)
	}
	return append(dst, `,"jstack":""}`...), nil
}

// UnmarshalConsumerRunningInfo decodes the answer of a Surge client or of
// the official clients (their other members are ignored).
func UnmarshalConsumerRunningInfo(b []byte) (*ConsumerRunningInfo, error) {
	f, err := fields(b)
	if err != nil {
		return nil, fmt.Errorf("decode consumer running info: %w", err)
	}
	info := &ConsumerRunningInfo{Properties: map[string]string{}}
	if p := f["properties"]; len(p) > 0 {
		if err := json.Unmarshal(p, &info.Properties); err != nil {
			return nil, fmt.Errorf("decode consumer running info properties: %w: %v", ErrBadBody, err)
		}
	}
	if info.MQTable, err = parseQueueMap[ProcessQueueInfo](f["mqTable"]); err != nil {
		return nil, fmt.Errorf("decode consumer running info: %w", err)
	}
	return info, nil
}
