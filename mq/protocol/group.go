package protocol

import (
	"encoding/json"
	"fmt"
)

// SubscriptionGroupConfig is a broker's configuration of one consumer
// group. Java brokers create one with these defaults the first time a group
// heartbeats (autoCreateSubscriptionGroup).
type SubscriptionGroupConfig struct {
	GroupName              string `json:"groupName"`
	ConsumeEnable          bool   `json:"consumeEnable"`
	ConsumeFromMinEnable   bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable bool   `json:"consumeBroadcastEnable"`
	// RetryQueueNums is the queue count of %RETRY%<group>; 0 drops failed
	// messages instead of retrying them.
	RetryQueueNums int32 `json:"retryQueueNums"`
	// RetryMaxTimes is how often a message is retried before the DLQ.
	RetryMaxTimes                  int32 `json:"retryMaxTimes"`
	BrokerID                       int64 `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64 `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIDsChangedEnable bool  `json:"notifyConsumerIdsChangedEnable"`
}

// DefaultSubscriptionGroupConfig returns Java's defaults for group: consume
// and broadcast enabled, 1 retry queue, 16 retries, notify on changes.
func DefaultSubscriptionGroupConfig(group string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{
		GroupName:                      group,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		BrokerID:                       MasterID,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIDsChangedEnable: true,
	}
}

// SubscriptionGroupWrapper is the body of a GET_ALL_SUBSCRIPTIONGROUP_CONFIG
// (201) answer. The Go admin decodes it with encoding/json.
type SubscriptionGroupWrapper struct {
	SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	DataVersion            DataVersion                        `json:"dataVersion"`
}

// Marshal renders w, {} for no groups.
func (w *SubscriptionGroupWrapper) Marshal() ([]byte, error) {
	out := *w
	if out.SubscriptionGroupTable == nil {
		out.SubscriptionGroupTable = map[string]SubscriptionGroupConfig{}
	}
	return json.Marshal(out)
}

// UnmarshalSubscriptionGroupWrapper decodes a subscription group body.
func UnmarshalSubscriptionGroupWrapper(b []byte) (*SubscriptionGroupWrapper, error) {
	var w SubscriptionGroupWrapper
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode subscription groups: %w: %v", ErrBadBody, err)
	}
	return &w, nil
}
