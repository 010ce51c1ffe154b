package namesrv

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/surge-mq/surge/mq/protocol"
)

// FuzzRegisterBroker feeds REGISTER_BROKER bodies, in both forms, through
// the NameServer's decoder and, when they decode, through the registry. It
// checks "error, not panic", that every topic of an accepted master table
// is routed with the table's queue counts, and that every route is one the
// Go client can use.
//
//	go test -run '^$' -fuzz FuzzRegisterBroker -fuzztime 45s ./namesrv/
func FuzzRegisterBroker(f *testing.F) {
	seed := func(form string, topics ...string) {
		b := brokerReq{cluster: "C", name: "a", addr: addrA0, version: 3, topics: topics, form: form}
		f.Add(b.body(f), form == formCompressed || form == formJavaCompressed, true)
	}
	seed(formJSON, "TopicTest")                       // the usual body
	seed(formJSON)                                    // an empty table
	seed(formJSON, "A", "B:16", "%RETRY%g", "TBW102") // several topics
	seed(formCompressed, "TopicTest", "B:8")          // our compressed encoder
	seed(formJavaCompressed, "TopicTest")             // doc 4.5's layout, built by hand
	f.Add([]byte(`{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":2},`+
		`"topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":4}}}}`),
		false, false) // doc 4.5's JSON example, without a checksum
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"K":{"topicName":"Other","readQueueNums":2}}}}`), false, true) // key and name disagree
	f.Add([]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":null}}`), false, true)                                          // null table
	f.Add([]byte{}, false, true)                                                                                                     // no body
	f.Add([]byte("\x78\x9c\x03\x00\x00\x00\x00\x01"), true, true)                                                                    // zlib of nothing
	f.Add(javaCompressedBody(`{"counter":1}`, []string{"T 4 4 6 SINGLE_TAG", "T 8 8 6 MULTI_TAG"}, `[]`), true, true)                // a topic listed twice
	f.Add(javaCompressedBody(`{"counter":1}`, []string{" 4 4 6 SINGLE_TAG"}, `["10.0.0.9:1"]`), true, false)                         // an empty topic name

	f.Fuzz(func(t *testing.T, body []byte, compressed, withCRC bool) {
		h := protocol.RegisterBrokerRequestHeader{
			BrokerName: "a", BrokerAddr: addrA0, ClusterName: "C", HAServerAddr: "10.0.0.1:10912", Compressed: compressed,
		}
		if withCRC {
			h.BodyCRC32 = int32(protocol.BodyChecksum(body))
		}
		reg, err := decodeRegistration(h.Ext(), body)
		if err != nil {
			if !strings.Contains(err.Error(), "register broker") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if len(body) == 0 != (reg.topics == nil) {
			t.Fatalf("body of %d bytes decoded to topics %v", len(body), reg.topics)
		}
		r := newRegistry()
		res := r.register(reg, t0)
		if !res.first {
			t.Fatal("first registration not reported first")
		}
		checkInvariants(t, r)
		if reg.topics == nil {
			if len(r.topicList()) != 0 {
				t.Fatal("topics from an empty body")
			}
			return
		}
		for name, tc := range reg.topics.TopicConfigTable {
			if name == "" {
				continue
			}
			rd, ok := r.route(name)
			if !ok {
				t.Fatalf("topic %q of an accepted table has no route", name)
			}
			if q := rd.QueueDatas[0]; q.ReadQueueNums != tc.ReadQueueNums || q.WriteQueueNums != tc.WriteQueueNums || q.Perm != tc.Perm {
				t.Fatalf("topic %q routed as %+v, table says %+v", name, q, tc)
			}
			if _, err := rd.Marshal(); err != nil {
				t.Fatalf("route of %q does not marshal: %v", name, err)
			}
		}
		want := slices.Sorted(maps.Keys(reg.topics.TopicConfigTable))
		want = slices.DeleteFunc(want, func(s string) bool { return s == "" })
		if got := r.topicList(); !slices.Equal(got, want) {
			t.Fatalf("topic list %q, want %q", got, want)
		}
		// The same version again changes nothing; then unregistering the
		// only address leaves an empty registry.
		if res := r.register(reg, t0); res.topicsUpdated {
			t.Fatal("unchanged version updated the topics")
		}
		r.unregister(addrA0)
		if len(r.topicList()) != 0 || len(r.clusterInfo().BrokerAddrTable) != 0 {
			t.Fatalf("state left after the last address went:\n%s", dump(r))
		}
	})
}
