package protocol

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var (
	mqA0 = MessageQueue{BrokerName: "broker-a", QueueID: 0, Topic: "T"}
	mqA1 = MessageQueue{BrokerName: "broker-a", QueueID: 1, Topic: "T"}
)

// docResetOffsetBody is doc 6.3's fastjson body.
const docResetOffsetBody = `{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:100,{"brokerName":"broker-a","queueId":1,"topic":"T"}:200}}`

func TestResetOffsetBody(t *testing.T) {
	b := &ResetOffsetBody{OffsetTable: map[MessageQueue]int64{mqA1: 200, mqA0: 100}}
	got, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != docResetOffsetBody {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, docResetOffsetBody)
	}
	for name, body := range map[string]string{
		"fastjson":  docResetOffsetBody,
		"pairs":     `{"offsetTable":[[{"topic":"T","brokerName":"broker-a","queueId":0},100],[{"topic":"T","brokerName":"broker-a","queueId":1},200]]}`,
		"spaced":    strings.ReplaceAll(docResetOffsetBody, ":", " : "),
		"key order": `{"offsetTable":{{"topic":"T","queueId":0,"brokerName":"broker-a"}:100,{"queueId":1,"brokerName":"broker-a","topic":"T"}:200}}`,
	} {
		back, err := UnmarshalResetOffsetBody([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !maps.Equal(back.OffsetTable, b.OffsetTable) {
			t.Errorf("%s: %v", name, back.OffsetTable)
		}
	}
	empty, _ := (&ResetOffsetBody{}).Marshal()
	if string(empty) != `{"offsetTable":{}}` {
		t.Errorf("empty = %s", empty)
	}
	if back, err := UnmarshalResetOffsetBody(empty); err != nil || len(back.OffsetTable) != 0 {
		t.Errorf("empty round trip %v %v", back, err)
	}
}

// goClientResetOffsets splits a reset body the way doc 6.3 says the Go
// client's fastjson path does.
func goClientResetOffsets(t *testing.T, body string) map[string]int64 {
	t.Helper()
	s := strings.TrimPrefix(body, `{"offsetTable":`)
	s = s[2 : len(s)-2] // "{{" ... "}}" less the outer object's brace
	out := map[string]int64{}
	for v := range strings.SplitSeq(s, ",{") {
		tuple := strings.Split(v, "}:")
		n, err := strconv.Atoi(tuple[1])
		if err != nil {
			t.Fatalf("the Go client would fail on %q: %v", v, err)
		}
		out["{"+strings.TrimPrefix(tuple[0], "{")+"}"] = int64(n)
	}
	return out
}

func TestResetOffsetBodyGoClientSplit(t *testing.T) {
	b := &ResetOffsetBody{OffsetTable: map[MessageQueue]int64{mqA0: 100, mqA1: 200, {BrokerName: "b", QueueID: 10, Topic: "%RETRY%cg"}: -1}}
	got, _ := b.Marshal()
	want := map[string]int64{
		`{"brokerName":"broker-a","queueId":0,"topic":"T"}`:   100,
		`{"brokerName":"broker-a","queueId":1,"topic":"T"}`:   200,
		`{"brokerName":"b","queueId":10,"topic":"%RETRY%cg"}`: -1,
	}
	if split := goClientResetOffsets(t, string(got)); !maps.Equal(split, want) {
		t.Errorf("split %v", split)
	}
}

func TestConsumeStats(t *testing.T) {
	s := &ConsumeStats{
		ConsumeTPS: 1.5,
		OffsetTable: map[MessageQueue]OffsetWrapper{
			mqA1: {BrokerOffset: 10, ConsumerOffset: 4, LastTimestamp: 1700000000000},
			mqA0: {BrokerOffset: 3, ConsumerOffset: 3},
		},
	}
	got, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"consumeTps":1.5,"offsetTable":{` +
		`{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":0},` +
		`{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":1700000000000}}}`
	if string(got) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	back, err := UnmarshalConsumeStats(got)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip %+v %v", back, err)
	}
	// Java writes 0.0 for a zero double.
	java := `{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":0}}}`
	if back, err := UnmarshalConsumeStats([]byte(java)); err != nil || back.OffsetTable[mqA0].BrokerOffset != 3 {
		t.Errorf("java body %+v %v", back, err)
	}
	if _, err := (&ConsumeStats{ConsumeTPS: math.NaN()}).Marshal(); err == nil {
		t.Error("NaN marshalled")
	}
}

func TestTopicStatsTable(t *testing.T) {
	s := &TopicStatsTable{OffsetTable: map[MessageQueue]TopicOffset{mqA0: {MinOffset: 1, MaxOffset: 9, LastUpdateTimestamp: 5}}}
	got, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":9,"minOffset":1}}}`
	if string(got) != want {
		t.Errorf("Marshal = %s", got)
	}
	back, err := UnmarshalTopicStatsTable(got)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip %+v %v", back, err)
	}
}

func TestQueueMapBodyErrors(t *testing.T) {
	for _, body := range []string{
		``,
		`[]`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:}}`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}100}}`,
		`{"offsetTable":{{"brokerName":"b","queueId":"0","topic":"T"}:100}}`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:"x"}}`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T":100}}`,
		`{"offsetTable":{{"brokerName":"b"}:1,}}`,
		`{"offsetTable":[[{"topic":"T"}]]}`,
		`{"offsetTable":{}} trailing`,
		`{"offsetTable":{"unterminated}}`,
	} {
		if _, err := UnmarshalResetOffsetBody([]byte(body)); !errors.Is(err, ErrBadBody) {
			t.Errorf("UnmarshalResetOffsetBody(%s): err = %v, want ErrBadBody", body, err)
		}
	}
}

func TestConsumerConnection(t *testing.T) {
	sub := SubscriptionData{Topic: "T", SubString: "TagA", SubVersion: 1, ExpressionType: ExpressionTag}
	sub.Normalize()
	c := &ConsumerConnection{
		ConnectionSet: []Connection{
			{ClientID: "b@2", ClientAddr: "10.0.0.2:5", Language: "JAVA", Version: 407},
			{ClientID: "a@1", ClientAddr: "10.0.0.1:5", Language: "GO", Version: 317},
		},
		ConsumeFromWhere: ConsumeFromLastOffset, ConsumeType: ConsumePassively, MessageModel: Clustering,
		SubscriptionTable: map[string]SubscriptionData{"T": sub},
	}
	got, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"connectionSet":[{"clientAddr":"10.0.0.1:5","clientId":"a@1","language":"GO","version":317},{"clientAddr":"10.0.0.2:5","clientId":"b@2","language":"JAVA","version":407}],` +
		`"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",` +
		`"subscriptionTable":{"T":{"classFilterMode":false,"topic":"T","subString":"TagA","tagsSet":["TagA"],"codeSet":[2598919],"subVersion":1,"expressionType":"TAG"}}}`
	if string(got) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	back, err := UnmarshalConsumerConnection(got)
	if err != nil || back.ConnectionSet[0].ClientID != "a@1" || back.SubscriptionTable["T"].CodeSet[0] != 2598919 {
		t.Errorf("round trip %+v %v", back, err)
	}
	if c.ConnectionSet[0].ClientID != "b@2" {
		t.Error("Marshal reordered the caller's slice")
	}
	empty, _ := (&ConsumerConnection{}).Marshal()
	if string(empty) != `{"connectionSet":[],"consumeFromWhere":"","consumeType":"","messageModel":"","subscriptionTable":{}}` {
		t.Errorf("empty = %s", empty)
	}
	if _, err := UnmarshalConsumerConnection([]byte(`{"connectionSet":{}}`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
}

func TestProducerConnection(t *testing.T) {
	p := &ProducerConnection{ConnectionSet: []Connection{{ClientID: "a@1", ClientAddr: "10.0.0.1:5", Language: "GO", Version: 317}}}
	got, _ := p.Marshal()
	if string(got) != `{"connectionSet":[{"clientAddr":"10.0.0.1:5","clientId":"a@1","language":"GO","version":317}]}` {
		t.Errorf("Marshal = %s", got)
	}
	back, err := UnmarshalProducerConnection(got)
	if err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("round trip %+v %v", back, err)
	}
	if _, err := UnmarshalProducerConnection([]byte(`[`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
}

func TestSubscriptionGroupWrapper(t *testing.T) {
	// Doc 5.17, with our key order.
	w := &SubscriptionGroupWrapper{
		SubscriptionGroupTable: map[string]SubscriptionGroupConfig{"cg": DefaultSubscriptionGroupConfig("cg")},
		DataVersion:            DataVersion{Counter: 1, Timestamp: 1700000000000},
	}
	got, err := w.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"subscriptionGroupTable":{"cg":{"groupName":"cg","consumeEnable":true,"consumeFromMinEnable":true,"consumeBroadcastEnable":true,"retryQueueNums":1,"retryMaxTimes":16,"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true}},"dataVersion":{"counter":1,"timestamp":1700000000000}}`
	if string(got) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	back, err := UnmarshalSubscriptionGroupWrapper(got)
	if err != nil || !reflect.DeepEqual(back, w) {
		t.Errorf("round trip %+v %v", back, err)
	}
	empty, _ := (&SubscriptionGroupWrapper{}).Marshal()
	if !strings.HasPrefix(string(empty), `{"subscriptionGroupTable":{},`) {
		t.Errorf("empty = %s", empty)
	}
	if _, err := UnmarshalSubscriptionGroupWrapper([]byte(`{"dataVersion":1}`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
}

func TestQuoteNumericKeys(t *testing.T) {
	for in, want := range map[string]string{
		`{0:"a:1"}`:                       `{"0":"a:1"}`,
		`{0:"a",1:"b",-2:"c"}`:            `{"0":"a","1":"b","-2":"c"}`,
		"{ 0 : \"a\",\n 12:\"b\"}":        "{ \"0\" : \"a\",\n \"12\":\"b\"}",
		`{"0":"a"}`:                       `{"0":"a"}`,
		`[1,2,{3:4}]`:                     `[1,2,{"3":4}]`,
		`{"s":"{0:\"x\",1:2}"}`:           `{"s":"{0:\"x\",1:2}"}`,
		`{"s":"\\",0:1}`:                  `{"s":"\\","0":1}`,
		`{"n":1.5,"m":-3}`:                `{"n":1.5,"m":-3}`,
		`{a:1}`:                           `{a:1}`,
		`{0`:                              `{0`,
		`{"brokerAddrs":{0:"h:1"},"x":0}`: `{"brokerAddrs":{"0":"h:1"},"x":0}`,
	} {
		if got := string(quoteNumericKeys([]byte(in))); got != want {
			t.Errorf("quoteNumericKeys(%s) = %s, want %s", in, got, want)
		}
	}
}
