package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"strings"
	"testing"
)

// Run one with, from mq/:
//
//	go test -run='^$' -fuzz=FuzzDecodeMessage -fuzztime=45s ./protocol/
//
// Inputs that once failed live in testdata/fuzz/<FuzzName>/ and run with the
// ordinary tests.

func FuzzDecodeMessage(f *testing.F) {
	golden := readHex(f, "stored-message-7.8.hex")
	// The worked example of doc 7.8, with and without CRC verification.
	f.Add(golden, true)
	f.Add(golden, false)
	// Records with 16-byte hosts: born, store, both.
	v4 := netip.MustParseAddrPort("10.0.0.1:10911")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:10911")
	for _, hosts := range [][2]netip.AddrPort{{v6, v4}, {v4, v6}, {v6, v6}} {
		m := Message{BornHost: hosts[0], StoreHost: hosts[1], Topic: "T", Body: []byte("b"), Properties: "A\x01b\x02"}
		f.Add(m.AppendEncode(nil), true)
	}
	// An empty record (minimum size) and two records back to back.
	f.Add((&Message{}).AppendEncode(nil), false)
	f.Add(append(bytes.Clone(golden), golden...), false)
	// A 16-byte host field holding an IPv4-mapped address.
	mapped := (&Message{BornHost: v6, StoreHost: v4, Topic: "T"}).AppendEncode(nil)
	copy(mapped[48:64], netip.MustParseAddr("::ffff:10.9.9.9").AsSlice())
	f.Add(mapped, false)
	// The corrupted records of TestDecodeMessageErrors.
	be := binary.BigEndian
	for _, mutate := range []func(b []byte){
		func(b []byte) { b[4] = 0 },                           // bad magic
		func(b []byte) { be.PutUint32(b, 90) },                // total below minimum
		func(b []byte) { be.PutUint32(b, 180) },               // total beyond data
		func(b []byte) { be.PutUint32(b[84:], 0xFFFFFFFF) },   // negative body length
		func(b []byte) { b[93] = 0xFF },                       // topic length too long
		func(b []byte) { be.PutUint16(b[103:], 75) },          // properties length long
		func(b []byte) { be.PutUint32(b[36:], 0x30) },         // IPv6 flags, IPv4 size
		func(b []byte) { be.PutUint32(b[68:], 0x10000) },      // store port > 65535
		func(b []byte) { b[11]++ },                            // CRC mismatch
		func(b []byte) { be.PutUint32(b[8:], 0) },             // CRC field zero
		func(b []byte) { be.PutUint32(b[36:], 0x7FFFFFCF) },   // every other sysflag bit
		func(b []byte) { be.PutUint32(b[0:], 0x7FFFFFFF) },    // huge total size
		func(b []byte) { be.PutUint32(b[84:], uint32(0x60)) }, // body swallows the rest
	} {
		f.Add(patch(golden, mutate), true)
	}
	f.Add([]byte{}, false)
	f.Add(golden[:7], false)

	f.Fuzz(func(t *testing.T, b []byte, verifyCRC bool) {
		DecodeMessages(b) // must not panic
		m, err := DecodeMessage(b, verifyCRC)
		if err != nil {
			if m != nil {
				t.Fatalf("message returned with error %v", err)
			}
			return
		}
		size, _, _ := RecordSize(b)
		rec := b[:size]
		if m.BodyCRC == 0 && BodyChecksum(m.Body) != 0 {
			// Encode fills in a zero BODYCRC; expect the computed one.
			rec = bytes.Clone(rec)
			binary.BigEndian.PutUint32(rec[8:], BodyChecksum(m.Body))
		}
		mappedBorn := m.SysFlag&FlagBornHostV6 != 0 && m.BornHost.Addr().Is4In6()
		mappedStore := m.SysFlag&FlagStoreHostV6 != 0 && m.StoreHost.Addr().Is4In6()
		again := m.AppendEncode(nil)
		if !mappedBorn && !mappedStore {
			if !bytes.Equal(again, rec) {
				t.Fatalf("re-encoding differs\n got %x\nwant %x", again, rec)
			}
			return
		}
		// Documented exception: IPv4-mapped hosts are re-encoded in the
		// 4-byte form. The result must still decode to the same message.
		back, err := DecodeMessage(again, false)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if back.Topic != m.Topic || back.Properties != m.Properties || !bytes.Equal(back.Body, m.Body) ||
			back.BornHost.Addr().Unmap() != m.BornHost.Addr().Unmap() ||
			back.StoreHost.Addr().Unmap() != m.StoreHost.Addr().Unmap() {
			t.Fatalf("re-encoded record decodes differently: %+v vs %+v", back, m)
		}
	})
}

func FuzzParseProperties(f *testing.F) {
	// The table of TestParseProperties: both forms, empty items, items
	// without separator or name, repeated names, separators in values.
	for _, tt := range propertyCases {
		f.Add(tt.text)
	}
	// The worked example's properties and a lone separator of each kind.
	f.Add("TAGS\x01TagA\x02UNIQ_KEY\x01C0A800140A5C0000000018D1CDB60001\x02CLUSTER\x01DefaultCluster")
	f.Add("\x01")
	f.Add("\x02")

	f.Fuzz(func(t *testing.T, s string) {
		props := ParseProperties(s)
		for k, v := range props {
			if k == "" || strings.ContainsAny(k, "\x01\x02") || strings.Contains(v, "\x02") {
				t.Fatalf("bad pair %q=%q", k, v)
			}
			if got := PropertyValue(s, k); got != v {
				t.Fatalf("PropertyValue(%q) = %q, map has %q", k, got, v)
			}
			del := ParseProperties(DeleteProperty(s, k))
			want := maps.Clone(props)
			delete(want, k)
			if !maps.Equal(del, want) {
				t.Fatalf("DeleteProperty(%q) left %q, want %q", k, del, want)
			}
		}
		if back := ParseProperties(MarshalProperties(props)); !maps.Equal(back, props) {
			t.Fatalf("marshal round trip: %q != %q", back, props)
		}
		set := ParseProperties(SetProperty(s, "FUZZ_NAME", "v"))
		want := maps.Clone(props)
		if want == nil {
			want = map[string]string{}
		}
		want["FUZZ_NAME"] = "v"
		if !maps.Equal(set, want) {
			t.Fatalf("SetProperty gave %q, want %q", set, want)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	// Two messages as the Go client encodes them.
	f.Add(goBatch())
	// One empty message (22 bytes).
	empty, _ := AppendBatchMessage(nil, BatchMessage{})
	f.Add(empty)
	// Nonzero magic and CRC, which are ignored.
	f.Add(patch(goBatch(), func(b []byte) { binary.BigEndian.PutUint32(b[4:], MessageMagic) }))
	// The malformed bodies of TestDecodeBatchErrors.
	for _, tt := range batchErrorCases {
		f.Add(tt.body)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := DecodeBatch(b)
		if err == nil {
			// Re-encoding gives the input back, with MAGICCODE and BODYCRC
			// zeroed.
			want := bytes.Clone(b)
			var got []byte
			for _, m := range msgs {
				clear(want[len(got)+4 : len(got)+12])
				if got, err = AppendBatchMessage(got, m); err != nil {
					t.Fatalf("re-encode: %v", err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("re-encoding differs\n got %x\nwant %x", got, want)
			}
		} else if msgs != nil {
			t.Fatalf("messages returned with error %v", err)
		}
		// Any bytes as one message's body and properties survive a round
		// trip.
		props := string(b[:min(len(b), MaxPropertiesLength)])
		one, err := AppendBatchMessage(nil, BatchMessage{Flag: -1, Body: b, Properties: props})
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeBatch(one)
		if err != nil || len(back) != 1 || !bytes.Equal(back[0].Body, b) || back[0].Properties != props || back[0].Flag != -1 {
			t.Fatalf("round trip of one message: %q, %v", back, err)
		}
	})
}

func FuzzUnmarshalQueueMapBodies(f *testing.F) {
	// Doc 6.3's fastjson body, the Go client's pair form, and an empty table.
	f.Add([]byte(docResetOffsetBody))
	f.Add([]byte(`{"offsetTable":[[{"topic":"T","brokerName":"broker-a","queueId":0},100]]}`))
	f.Add([]byte(`{"offsetTable":{}}`))
	// A ConsumeStats body as Java writes it.
	f.Add([]byte(`{"consumeTps":0.0,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":3,"consumerOffset":3,"lastTimestamp":0}}}`))
	// The malformed bodies of TestQueueMapBodyErrors.
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T":100}}`))
	f.Add([]byte(`{"offsetTable":{"unterminated}}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		UnmarshalConsumeStats(b)
		UnmarshalTopicStatsTable(b)
		UnmarshalConsumerRunningInfo(b)
		r, err := UnmarshalResetOffsetBody(b)
		if err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("error %v is not ErrBadBody", err)
			}
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalResetOffsetBody(out)
		if err != nil || !maps.Equal(back.OffsetTable, r.OffsetTable) {
			t.Fatalf("round trip of %s: %v, %v", out, back, err)
		}
	})
}

func FuzzQuoteNumericKeys(f *testing.F) {
	f.Add([]byte(docRouteBody))
	f.Add([]byte(`{"brokerAddrs":{0:"a:1",1:"b:2"}}`))
	f.Add([]byte(`[1,2,{3:4}]`))
	f.Add([]byte(`{"s":"{0:\"x\"}"}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		got := quoteNumericKeys(b)
		if json.Valid(b) && !bytes.Equal(got, b) {
			t.Fatalf("valid JSON changed: %s -> %s", b, got)
		}
		UnmarshalTopicRouteData(b)
		UnmarshalClusterInfo(b)
	})
}

func FuzzDecodeRegisterBrokerBody(f *testing.F) {
	z, err := docRegister().MarshalCompressed()
	if err != nil {
		f.Fatal(err)
	}
	// The doc 4.5 body in both forms.
	f.Add(z, true)
	f.Add([]byte(docRegisterBody), false)
	f.Add([]byte("plain"), true)

	f.Fuzz(func(t *testing.T, b []byte, compressed bool) {
		body, err := DecodeRegisterBrokerBody(b, compressed)
		if err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("error %v is not ErrBadBody", err)
			}
			return
		}
		if body.TopicConfigSerializeWrapper.TopicConfigTable == nil {
			t.Fatal("nil topic table")
		}
	})
}
