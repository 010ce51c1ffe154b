package protocol

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// docRouteBody is the 238-byte TopicRouteData of doc 4.3 / 9.5.
const docRouteBody = `{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

func docRoute() *TopicRouteData {
	return &TopicRouteData{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: PermRead | PermWrite}},
		BrokerDatas: []BrokerData{{
			Cluster: "DefaultCluster", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{MasterID: "192.168.0.10:10911"},
		}},
	}
}

func TestTopicRouteDataMarshalDocExample(t *testing.T) {
	got, err := docRoute().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != docRouteBody {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, docRouteBody)
	}
	if len(got) != 238 {
		t.Errorf("body is %d bytes, want 238", len(got))
	}
}

// indent spreads JSON-like text over lines the way a pretty printer would,
// outside strings only.
func indent(s string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.WriteByte(c)
		switch {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			inString = !inString
		case !inString && (c == '{' || c == ',' || c == '['):
			b.WriteString("\n  ")
		case !inString && c == ':':
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func TestTopicRouteDataUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"our form", docRouteBody},
		// Java 4.9.7 to a client announcing a version below 4.9.4.
		{"fastjson unquoted keys", strings.Replace(docRouteBody, `{"0":`, `{0:`, 1)},
		// Older Java and the Go client's own struct.
		{"topicSynFlag spelling", strings.Replace(docRouteBody, `"topicSysFlag"`, `"topicSynFlag"`, 1)},
		{"indented, unquoted keys", indent(strings.Replace(docRouteBody, `{"0":`, `{0:`, 1))},
	}
	want := docRoute()
	want.FilterServerTable = map[string][]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnmarshalTopicRouteData([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("topicSysFlag wins over topicSynFlag", func(t *testing.T) {
		var q QueueData
		if err := q.UnmarshalJSON([]byte(`{"topicSynFlag":1,"topicSysFlag":2}`)); err != nil || q.TopicSysFlag != 2 {
			t.Errorf("TopicSysFlag = %d, %v", q.TopicSysFlag, err)
		}
	})
	for _, bad := range []string{"", "{", `{"queueDatas":{}}`, `{"queueDatas":[{"perm":"6"}]}`} {
		if _, err := UnmarshalTopicRouteData([]byte(bad)); !errors.Is(err, ErrBadBody) {
			t.Errorf("UnmarshalTopicRouteData(%q): err = %v, want ErrBadBody", bad, err)
		}
	}
}

// goClientBrokerAddrs parses brokerAddrs the way doc 4.3 says the Go
// client does: cut the braces, split on ',', split each piece at its first
// ':', delete quotes, parse the id.
func goClientBrokerAddrs(t *testing.T, body []byte) map[int64]string {
	t.Helper()
	s := string(body)
	i := strings.Index(s, `"brokerAddrs":`)
	if i < 0 {
		t.Fatalf("no brokerAddrs in %s", s)
	}
	s = s[i+len(`"brokerAddrs":`):]
	s = s[:strings.IndexByte(s, '}')+1]
	out := map[int64]string{}
	for piece := range strings.SplitSeq(s[1:len(s)-1], ",") {
		j := strings.Index(piece, ":")
		if j < 0 {
			continue
		}
		id, _ := strconv.ParseInt(strings.ReplaceAll(piece[:j], `"`, ""), 10, 64)
		out[id] = strings.ReplaceAll(piece[j+1:], `"`, "")
	}
	return out
}

func TestTopicRouteDataGoClientParse(t *testing.T) {
	addrs := map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911", 12: "[::1]:10911"}
	r := &TopicRouteData{BrokerDatas: []BrokerData{{BrokerName: "b", Cluster: "c", BrokerAddrs: addrs}}}
	body, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := goClientBrokerAddrs(t, body); !reflect.DeepEqual(got, addrs) {
		t.Errorf("the Go client would read %v, want %v", got, addrs)
	}
}

func TestTopicRouteDataMarshalNormalizes(t *testing.T) {
	empty, err := (&TopicRouteData{BrokerDatas: []BrokerData{{BrokerName: "b"}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"brokerDatas":[{"brokerAddrs":{},"brokerName":"b","cluster":""}],"filterServerTable":{},"queueDatas":[]}`
	if string(empty) != want {
		t.Errorf("Marshal = %s, want %s", empty, want)
	}

	r := &TopicRouteData{
		QueueDatas:  []QueueData{{BrokerName: "z"}, {BrokerName: "a"}},
		BrokerDatas: []BrokerData{{BrokerName: "z"}, {BrokerName: "a"}},
	}
	body, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalTopicRouteData(body)
	if err != nil {
		t.Fatal(err)
	}
	if back.QueueDatas[0].BrokerName != "a" || back.BrokerDatas[0].BrokerName != "a" {
		t.Errorf("not sorted by broker name: %s", body)
	}
	if r.QueueDatas[0].BrokerName != "z" {
		t.Error("Marshal reordered the caller's slice")
	}
}

func TestTopicRouteDataBadAddress(t *testing.T) {
	for _, addr := range []string{"", "a:1,b:2", `a"b:1`, " a:1", "a:1 ", "a:{1}"} {
		r := &TopicRouteData{BrokerDatas: []BrokerData{{BrokerName: "b", BrokerAddrs: map[int64]string{0: addr}}}}
		if _, err := r.Marshal(); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("address %q: err = %v, want ErrInvalidRoute", addr, err)
		}
		c := &ClusterInfo{BrokerAddrTable: map[string]BrokerData{"b": r.BrokerDatas[0]}}
		if _, err := c.Marshal(); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("cluster info, address %q: err = %v, want ErrInvalidRoute", addr, err)
		}
	}
}

func TestBrokerDataMasterAddr(t *testing.T) {
	b := BrokerData{BrokerAddrs: map[int64]string{1: "slave:1"}}
	if b.MasterAddr() != "" {
		t.Error("slave reported as master")
	}
	b.BrokerAddrs[MasterID] = "master:1"
	if b.MasterAddr() != "master:1" {
		t.Errorf("MasterAddr = %q", b.MasterAddr())
	}
}

func TestClusterInfo(t *testing.T) {
	// Doc 4.6, with quoted keys.
	const doc = `{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`
	c := &ClusterInfo{
		BrokerAddrTable: map[string]BrokerData{"broker-a": {
			BrokerAddrs: map[int64]string{0: "192.168.0.10:10911"}, BrokerName: "broker-a", Cluster: "DefaultCluster",
		}},
		ClusterAddrTable: map[string][]string{"DefaultCluster": {"broker-a"}},
	}
	got, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != doc {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, doc)
	}
	// Java 4.9.7 always sends unquoted keys here.
	for _, body := range []string{doc, strings.Replace(doc, `{"0":`, `{0:`, 1)} {
		back, err := UnmarshalClusterInfo([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("UnmarshalClusterInfo(%s) = %+v", body, back)
		}
	}
	if _, err := UnmarshalClusterInfo([]byte("{0}")); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
	empty, _ := (&ClusterInfo{ClusterAddrTable: map[string][]string{"c": nil}}).Marshal()
	if string(empty) != `{"brokerAddrTable":{},"clusterAddrTable":{"c":[]}}` {
		t.Errorf("empty cluster info: %s", empty)
	}
}

func TestTopicList(t *testing.T) {
	for _, tt := range []struct {
		list TopicList
		want string
	}{
		{TopicList{TopicList: []string{"B", "A"}}, `{"topicList":["A","B"]}`},
		{TopicList{}, `{"topicList":[]}`},
		{TopicList{BrokerAddr: "10.0.0.1:10911", TopicList: []string{"T"}}, `{"brokerAddr":"10.0.0.1:10911","topicList":["T"]}`},
	} {
		got, err := tt.list.Marshal()
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal = %s, %v; want %s", got, err, tt.want)
		}
		back, err := UnmarshalTopicList(got)
		if err != nil || len(back.TopicList) != len(tt.list.TopicList) || back.BrokerAddr != tt.list.BrokerAddr {
			t.Errorf("UnmarshalTopicList(%s) = %+v, %v", got, back, err)
		}
	}
	if _, err := UnmarshalTopicList([]byte(`{"topicList":"A"}`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad body: %v", err)
	}
}

// docRegisterBody is the REGISTER_BROKER body of doc 4.5, compact.
const docRegisterBody = `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}`

func docRegister() *RegisterBrokerBody {
	return &RegisterBrokerBody{
		FilterServerList: []string{},
		TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
			DataVersion: DataVersion{Counter: 3, Timestamp: 1700000000000},
			TopicConfigTable: map[string]TopicConfig{"TopicTest": {
				TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: TopicFilterSingleTag,
			}},
		},
	}
}

func TestRegisterBrokerBody(t *testing.T) {
	got, err := docRegister().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != docRegisterBody {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, docRegisterBody)
	}
	back, err := DecodeRegisterBrokerBody(got, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, docRegister()) {
		t.Errorf("decoded %+v", back)
	}
	empty, _ := (&RegisterBrokerBody{}).Marshal()
	if want := `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":0,"timestamp":0},"topicConfigTable":{}}}`; string(empty) != want {
		t.Errorf("empty body %s", empty)
	}
	if _, err := DecodeRegisterBrokerBody([]byte("{"), false); !errors.Is(err, ErrBadBody) {
		t.Errorf("bad JSON: %v", err)
	}
}

func TestRegisterBrokerBodyCompressed(t *testing.T) {
	b := docRegister()
	b.TopicConfigSerializeWrapper.TopicConfigTable["%RETRY%cg"] = TopicConfig{
		TopicName: "%RETRY%cg", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6, TopicFilterType: TopicFilterMultiTag,
		// Lost in the compressed form.
		TopicSysFlag: 1, Order: true,
	}
	b.FilterServerList = []string{"10.0.0.9:30000"}
	z, err := b.MarshalCompressed()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeRegisterBrokerBody(z, true)
	if err != nil {
		t.Fatal(err)
	}
	retry := b.TopicConfigSerializeWrapper.TopicConfigTable["%RETRY%cg"]
	retry.TopicSysFlag, retry.Order = 0, false
	b.TopicConfigSerializeWrapper.TopicConfigTable["%RETRY%cg"] = retry
	if !reflect.DeepEqual(back, b) {
		t.Errorf("decoded\n%+v\nwant\n%+v", back, b)
	}
}

// compressedRegister builds a compressed body from raw items, the way
// Java's RegisterBrokerBody.encode(true) lays it out.
func compressedRegister(items ...[]byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	for _, it := range items {
		zw.Write(it)
	}
	zw.Close()
	return buf.Bytes()
}

func lenPrefixed(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

func TestRegisterBrokerBodyCompressedErrors(t *testing.T) {
	dv := lenPrefixed(`{"counter":1,"timestamp":2}`)
	one := binary.BigEndian.AppendUint32(nil, 1)
	topic := lenPrefixed("T 4 4 6 SINGLE_TAG")
	filters := lenPrefixed("[]")
	good := compressedRegister(dv, one, topic, filters)
	if b, err := DecodeRegisterBrokerBody(good, true); err != nil || b.TopicConfigSerializeWrapper.TopicConfigTable["T"].WriteQueueNums != 4 {
		t.Fatalf("good body: %+v, %v", b, err)
	}
	tests := map[string][]byte{
		"not zlib":             []byte("plain"),
		"truncated stream":     good[:len(good)-6],
		"no topic count":       compressedRegister(dv),
		"count above topics":   compressedRegister(dv, binary.BigEndian.AppendUint32(nil, 2), topic, filters),
		"negative length":      compressedRegister(binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF)),
		"huge length":          compressedRegister(binary.BigEndian.AppendUint32(nil, 1<<30)),
		"bad data version":     compressedRegister(lenPrefixed("{"), one, topic, filters),
		"four topic fields":    compressedRegister(dv, one, lenPrefixed("T 4 4 6"), filters),
		"bad queue number":     compressedRegister(dv, one, lenPrefixed("T x 4 6 SINGLE_TAG"), filters),
		"unknown filter type":  compressedRegister(dv, one, lenPrefixed("T 4 4 6 ALL_TAGS"), filters),
		"bad filter list":      compressedRegister(dv, one, topic, lenPrefixed("{}")),
		"negative topic count": compressedRegister(dv, binary.BigEndian.AppendUint32(nil, 0x80000000)),
	}
	for name, body := range tests {
		if _, err := DecodeRegisterBrokerBody(body, true); !errors.Is(err, ErrBadBody) {
			t.Errorf("%s: err = %v, want ErrBadBody", name, err)
		}
	}
}

func TestDataVersionNext(t *testing.T) {
	v := DataVersion{Counter: 3, Timestamp: 1}.Next(1700000000000)
	if v != (DataVersion{Counter: 4, Timestamp: 1700000000000}) {
		t.Errorf("Next = %+v", v)
	}
}

func TestTopicConfigQueueData(t *testing.T) {
	c := TopicConfig{TopicName: "T", ReadQueueNums: 8, WriteQueueNums: 4, Perm: 6, TopicSysFlag: 1}
	want := QueueData{BrokerName: "broker-a", ReadQueueNums: 8, WriteQueueNums: 4, Perm: 6, TopicSysFlag: 1}
	if got := c.QueueData("broker-a"); got != want {
		t.Errorf("QueueData = %+v", got)
	}
}

func TestKVTable(t *testing.T) {
	got, _ := (&KVTable{}).Marshal()
	if string(got) != `{"table":{}}` {
		t.Errorf("empty KVTable = %s", got)
	}
	for _, body := range []string{"", `{"table":null}`, `{}`} {
		kv, err := UnmarshalKVTable([]byte(body))
		if err != nil || kv.Table == nil || len(kv.Table) != 0 {
			t.Errorf("UnmarshalKVTable(%q) = %+v, %v", body, kv, err)
		}
	}
	kv, err := UnmarshalKVTable([]byte(`{"table":{"msgPutTotalTodayNow":"12"}}`))
	if err != nil || kv.Table["msgPutTotalTodayNow"] != "12" {
		t.Errorf("UnmarshalKVTable = %+v, %v", kv, err)
	}
	if _, err := UnmarshalKVTable([]byte(`{"table":{"a":1}}`)); !errors.Is(err, ErrBadBody) {
		t.Errorf("numeric value: %v", err)
	}
}

func TestTopicRouteDataValidate(t *testing.T) {
	if err := docRoute().Validate(); err != nil {
		t.Errorf("doc route: %v", err)
	}
	r := docRoute()
	r.QueueDatas = append(r.QueueDatas, QueueData{BrokerName: "broker-b"}, QueueData{BrokerName: "broker-a"})
	r.BrokerDatas = append(r.BrokerDatas, BrokerData{BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "bad,addr"}})
	err := r.Validate()
	if !errors.Is(err, ErrInvalidRoute) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`broker "broker-a" listed twice`, `queue data of broker "broker-a" listed twice`, `"broker-b" without broker data`, `"bad,addr"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
