package protocol

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// goConsumerHeartbeat is the Go push consumer heartbeat of doc 5.9,
// compact, plus a non-ASCII tag whose Go code is wrong.
const goConsumerHeartbeat = `{"clientID":"192.0.2.2@16994","producerDataSet":[],"consumerDataSet":[` +
	`{"groupName":"cg","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[` +
	`{"classFilterMode":false,"topic":"NewTopic","subString":"TagA","tagsSet":["TagA"],"codeSet":["2598919"],"subVersion":1795343038089516565,"expressionType":"TAG"},` +
	`{"classFilterMode":false,"topic":"%RETRY%cg","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1795343038089537703,"expressionType":"TAG"},` +
	`{"classFilterMode":false,"topic":"Zh","subString":"标签 || TagB","tagsSet":["TagB","标签"],"codeSet":["-1853217173","2598920"],"subVersion":1,"expressionType":"TAG"}],` +
	`"unitMode":false}]}`

// javaConsumerHeartbeat is what a Java 4.9.7 client sends (fastjson, codes
// as numbers, CLIENT_INNER_PRODUCER, an SQL92 subscription).
const javaConsumerHeartbeat = `{"clientID":"10.0.0.7@311","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"jg","messageModel":"BROADCASTING","subscriptionDataSet":[` +
	`{"classFilterMode":false,"codeSet":[2598919,2598920],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"T"},` +
	`{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 5","subVersion":1700000000001,"tagsSet":[],"topic":"S"}],` +
	`"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"jpg"}]}`

func TestUnmarshalHeartbeatGo(t *testing.T) {
	h, err := UnmarshalHeartbeatData([]byte(goConsumerHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	want := &HeartbeatData{
		ClientID:        "192.0.2.2@16994",
		ProducerDataSet: []ProducerData{},
		ConsumerDataSet: []ConsumerData{{
			GroupName: "cg", ConsumeType: ConsumePassively, MessageModel: Clustering, ConsumeFromWhere: ConsumeFromLastOffset,
			SubscriptionDataSet: []SubscriptionData{
				{Topic: "NewTopic", SubString: "TagA", TagsSet: []string{"TagA"}, CodeSet: []int64{2598919}, SubVersion: 1795343038089516565, ExpressionType: ExpressionTag},
				{Topic: "%RETRY%cg", SubString: "*", TagsSet: []string{}, CodeSet: []int64{}, SubVersion: 1795343038089537703, ExpressionType: ExpressionTag},
				// The Go client's -1853217173 for 标签 is replaced by Java's
				// 857175.
				{Topic: "Zh", SubString: "标签 || TagB", TagsSet: []string{"TagB", "标签"}, CodeSet: []int64{857175, 2598920}, SubVersion: 1, ExpressionType: ExpressionTag},
			},
		}},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got\n%+v\nwant\n%+v", h, want)
	}
}

func TestUnmarshalHeartbeatJava(t *testing.T) {
	h, err := UnmarshalHeartbeatData([]byte(javaConsumerHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.ProducerDataSet) != 2 || h.ProducerDataSet[1].GroupName != "jpg" {
		t.Errorf("producers %+v", h.ProducerDataSet)
	}
	c := h.ConsumerDataSet[0]
	if c.MessageModel != Broadcasting || c.ConsumeFromWhere != ConsumeFromFirstOffset {
		t.Errorf("consumer %+v", c)
	}
	tag, sql := c.SubscriptionDataSet[0], c.SubscriptionDataSet[1]
	if !slices.Equal(tag.CodeSet, []int64{2598919, 2598920}) || tag.MatchesAll() {
		t.Errorf("tag subscription %+v", tag)
	}
	if sql.ExpressionType != ExpressionSQL92 || len(sql.CodeSet) != 0 || sql.MatchesAll() {
		t.Errorf("sql subscription %+v", sql)
	}
}

func TestUnmarshalHeartbeatProducerOnly(t *testing.T) {
	// Doc 5.9.
	h, err := UnmarshalHeartbeatData([]byte(`{"clientID":"c","producerDataSet":[{"groupName":"pg"}],"consumerDataSet":[]}`))
	if err != nil || len(h.ProducerDataSet) != 1 || h.ProducerDataSet[0].GroupName != "pg" || len(h.ConsumerDataSet) != 0 {
		t.Errorf("got %+v, %v", h, err)
	}
}

func TestUnmarshalHeartbeatErrors(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                   "",
		"not an object":           "[]",
		"code not a number":       strings.Replace(goConsumerHeartbeat, `"2598919"`, `"TagA"`, 1),
		"code beyond 32 bits":     strings.Replace(goConsumerHeartbeat, `"2598919"`, `4294967296`, 1),
		"unescaped quote in tag":  strings.Replace(goConsumerHeartbeat, `["TagA"]`, `["Ta"gA"]`, 1),
		"consumer set not a list": `{"clientID":"c","consumerDataSet":{}}`,
	} {
		if _, err := UnmarshalHeartbeatData([]byte(body)); !errors.Is(err, ErrBadBody) {
			t.Errorf("%s: err = %v, want ErrBadBody", name, err)
		}
	}
}

func TestSubscriptionNormalize(t *testing.T) {
	tests := []struct {
		name  string
		in    SubscriptionData
		tags  []string
		codes []int64
		all   bool
	}{
		{"star", SubscriptionData{SubString: "*"}, []string{}, []int64{}, true},
		{"empty expression", SubscriptionData{}, []string{}, []int64{}, true},
		{"tags from subString", SubscriptionData{SubString: " TagB || TagA ||  "}, []string{"TagA", "TagB"}, []int64{2598919, 2598920}, false},
		{"tagsSet wins", SubscriptionData{SubString: "ignored", TagsSet: []string{"TagA", "TagA"}}, []string{"TagA"}, []int64{2598919}, false},
		{"wrong client codes replaced", SubscriptionData{SubString: "标签", CodeSet: []int64{-1853217173}, ExpressionType: ExpressionTag}, []string{"标签"}, []int64{857175}, false},
		{"sql92 has no tags", SubscriptionData{SubString: "a > 1", TagsSet: []string{"x"}, ExpressionType: ExpressionSQL92}, []string{}, []int64{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.in
			s.Normalize()
			if !slices.Equal(s.TagsSet, tt.tags) || !slices.Equal(s.CodeSet, tt.codes) {
				t.Errorf("tags %q codes %v, want %q %v", s.TagsSet, s.CodeSet, tt.tags, tt.codes)
			}
			if s.MatchesAll() != tt.all {
				t.Errorf("MatchesAll = %v", s.MatchesAll())
			}
		})
	}
}

func TestSubscriptionMatchesTagCode(t *testing.T) {
	s := SubscriptionData{SubString: "TagA||标签"}
	s.Normalize()
	for code, want := range map[int64]bool{TagHash("TagA"): true, TagHash("标签"): true, TagHash("TagB"): false, 0: false} {
		if got := s.MatchesTagCode(code); got != want {
			t.Errorf("MatchesTagCode(%d) = %v, want %v", code, got, want)
		}
	}
	all := SubscriptionData{SubString: SubAll}
	all.Normalize()
	if !all.MatchesTagCode(0) || !all.MatchesTagCode(12345) {
		t.Error("* must match untagged and tagged messages")
	}
}

func TestParseTagExpression(t *testing.T) {
	for expr, want := range map[string][]string{
		"":              nil,
		"*":             nil,
		" * ":           nil,
		"TagA":          {"TagA"},
		"TagA || TagB":  {"TagA", "TagB"},
		"TagA||||TagB|": {"TagA", "TagB|"},
	} {
		if got := ParseTagExpression(expr); !slices.Equal(got, want) {
			t.Errorf("ParseTagExpression(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestHeartbeatMarshal(t *testing.T) {
	h := &HeartbeatData{ClientID: "c", ConsumerDataSet: []ConsumerData{{
		GroupName: "cg", SubscriptionDataSet: []SubscriptionData{{Topic: "T", SubString: "*", ExpressionType: ExpressionTag}},
	}}}
	got, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"clientID":"c","producerDataSet":[],"consumerDataSet":[{"groupName":"cg","consumeType":"","messageModel":"","consumeFromWhere":"","subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"*","tagsSet":[],"codeSet":[],"subVersion":0,"expressionType":"TAG"}],"unitMode":false}]}`
	if string(got) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
	// Codes go out as numbers, the form Java brokers expect.
	s := SubscriptionData{SubString: "TagA"}
	s.Normalize()
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"codeSet":[2598919]`) {
		t.Errorf("codes not numeric: %s", b)
	}
	// And our own decoder reads what we write.
	back, err := UnmarshalHeartbeatData(got)
	if err != nil || back.ConsumerDataSet[0].SubscriptionDataSet[0].Topic != "T" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestMessageQueueJSONAndOrder(t *testing.T) {
	b, _ := json.Marshal(MessageQueue{Topic: "T", BrokerName: "b", QueueID: 1})
	if string(b) != `{"brokerName":"b","queueId":1,"topic":"T"}` {
		t.Errorf("MessageQueue JSON %s", b)
	}
	qs := []MessageQueue{{"b", 1, "T"}, {"a", 2, "T"}, {"a", 1, "T"}, {"z", 0, "A"}}
	slices.SortFunc(qs, MessageQueue.Compare)
	want := []MessageQueue{{"z", 0, "A"}, {"a", 1, "T"}, {"a", 2, "T"}, {"b", 1, "T"}}
	if !slices.Equal(qs, want) {
		t.Errorf("sorted %v", qs)
	}
}

func TestConsumerIDList(t *testing.T) {
	got, _ := (&ConsumerIDList{ConsumerIDList: []string{"192.0.2.2@16994", "10.0.0.7@311"}}).Marshal()
	// Doc 5.11's shape, IDs sorted.
	if string(got) != `{"consumerIdList":["10.0.0.7@311","192.0.2.2@16994"]}` {
		t.Errorf("Marshal = %s", got)
	}
	empty, _ := (&ConsumerIDList{}).Marshal()
	if string(empty) != `{"consumerIdList":[]}` {
		t.Errorf("empty = %s", empty)
	}
	back, err := UnmarshalConsumerIDList(got)
	if err != nil || len(back.ConsumerIDList) != 2 {
		t.Errorf("round trip %+v %v", back, err)
	}
	if _, err := UnmarshalConsumerIDList([]byte(`{"consumerIdList":"x"}`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
}

func TestLockBatchBodies(t *testing.T) {
	// Doc 5.12, the Go client's request.
	const req = `{"consumerGroup":"cg","clientId":"192.0.2.2@16994","mqSet":[{"topic":"T","brokerName":"broker-a","queueId":0},{"topic":"T","brokerName":"broker-a","queueId":1}]}`
	lock, err := UnmarshalLockBatchRequestBody([]byte(req))
	if err != nil {
		t.Fatal(err)
	}
	wantMQs := []MessageQueue{{BrokerName: "broker-a", QueueID: 0, Topic: "T"}, {BrokerName: "broker-a", QueueID: 1, Topic: "T"}}
	if lock.ConsumerGroup != "cg" || lock.ClientID != "192.0.2.2@16994" || !slices.Equal(lock.MQSet, wantMQs) {
		t.Errorf("lock request %+v", lock)
	}
	unlock, err := UnmarshalUnlockBatchRequestBody([]byte(req))
	if err != nil || !slices.Equal(unlock.MQSet, wantMQs) {
		t.Errorf("unlock request %+v %v", unlock, err)
	}

	resp, _ := (&LockBatchResponseBody{LockOKMQSet: wantMQs[:1]}).Marshal()
	if string(resp) != `{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"T"}]}` {
		t.Errorf("response %s", resp)
	}
	back, err := UnmarshalLockBatchResponseBody(resp)
	if err != nil || !slices.Equal(back.LockOKMQSet, wantMQs[:1]) {
		t.Errorf("response round trip %+v %v", back, err)
	}
	none, _ := (&LockBatchResponseBody{}).Marshal()
	if string(none) != `{"lockOKMQSet":[]}` {
		t.Errorf("empty response %s", none)
	}
	for _, b := range []interface{ Marshal() ([]byte, error) }{&LockBatchRequestBody{}, &UnlockBatchRequestBody{}} {
		got, _ := b.Marshal()
		if string(got) != `{"clientId":"","consumerGroup":"","mqSet":[]}` {
			t.Errorf("empty request %s", got)
		}
	}
	for _, f := range []func([]byte) error{
		func(b []byte) error { _, err := UnmarshalLockBatchRequestBody(b); return err },
		func(b []byte) error { _, err := UnmarshalUnlockBatchRequestBody(b); return err },
		func(b []byte) error { _, err := UnmarshalLockBatchResponseBody(b); return err },
	} {
		if err := f([]byte(`{"mqSet":[{"queueId":"0"}],"lockOKMQSet":1}`)); !errors.Is(err, ErrBadBody) {
			t.Errorf("bad body: %v", err)
		}
	}
}
