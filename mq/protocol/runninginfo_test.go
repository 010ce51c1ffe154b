package protocol

import (
	"errors"
	"testing"
)

func TestConsumerRunningInfoRoundTrip(t *testing.T) {
	in := &ConsumerRunningInfo{
		Properties: map[string]string{"PROP_CONSUME_TYPE": "CONSUME_PASSIVELY"},
		MQTable: map[MessageQueue]ProcessQueueInfo{
			{Topic: "T", BrokerName: "b", QueueID: 1}: {CommitOffset: 7, CachedMsgCount: 3, Locked: true},
		},
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := UnmarshalConsumerRunningInfo(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	got := out.MQTable[MessageQueue{Topic: "T", BrokerName: "b", QueueID: 1}]
	if out.Properties["PROP_CONSUME_TYPE"] != "CONSUME_PASSIVELY" || got.CommitOffset != 7 || got.CachedMsgCount != 3 || !got.Locked {
		t.Fatalf("round trip: %+v\n%s", out, b)
	}
}

// The official Go client's answer, as captured (rocketmq-wire-protocol
// notes, 6.5), shortened.
func TestConsumerRunningInfoOfficial(t *testing.T) {
	body := `{"properties":{"PROP_CLIENT_VERSION":"v2.1.1","PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"},` +
		`"statusTable":{"NewTopic":{"pullRT":0,"pullTPS":0}},` +
		`"subscriptionSet":[{"classFilterMode":false,"topic":"NewTopic","subString":"TagA","tagsSet":["TagA"],"codeSet":["2598919"],"subVersion":1795343098543814760,"expressionType":"TAG"}],` +
		`"mqTable":{{"topic":"NewTopic","brokerName":"broker-a","queueId":1}:{"commitOffset":1,"cachedMsgMinOffset":0,"lastConsumeTimestamp":1795343098543}}, "jstack":"" }`
	info, err := UnmarshalConsumerRunningInfo([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := info.MQTable[MessageQueue{Topic: "NewTopic", BrokerName: "broker-a", QueueID: 1}]; !ok || q.CommitOffset != 1 {
		t.Fatalf("mqTable %+v", info.MQTable)
	}
	if _, err := UnmarshalConsumerRunningInfo([]byte(`{"mqTable":{{"topic":`)); !errors.Is(err, ErrBadBody) {
		t.Fatalf("truncated body: %v", err)
	}
}
