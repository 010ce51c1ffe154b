package remoting

import (
	"bytes"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
)

// The GET_ROUTEINFO_BY_TOPIC request of the protocol reference (section
// 9.4), exactly as the official Go client writes it.
const routeRequestJSON = "000000700000006c7b22636f6465223a3130352c226c616e6775616765223a22474f222c2276657273696f6e223a3331372c226f7061717565223a312c22666c6167223a302c2272656d61726b223a22222c2265787446696" +
	"56c6473223a7b22746f706963223a22546f70696354657374227d7d"

// The same request with a ROCKETMQ binary header.
const routeRequestBinary = "0000002d0100002900690901" + "3d0000000100000000000000000000001400057" + "46f7069630000000954" + "6f70696354657374"

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeCapturedFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		st   SerializeType
	}{{"json", routeRequestJSON, JSON}, {"binary", routeRequestBinary, RocketMQ}} {
		t.Run(tc.name, func(t *testing.T) {
			frame := mustHex(t, tc.hex)
			c, err := DecodeFrame(frame[4:])
			if err != nil {
				t.Fatal(err)
			}
			if c.Code != 105 || c.Language != "GO" || c.Version != 317 || c.Opaque != 1 || c.Flag != 0 || c.Ext("topic") != "TopicTest" || c.Serialize != tc.st || len(c.Body) != 0 {
				t.Fatalf("decoded %+v", c)
			}
		})
	}
	// Our binary encoding of that command is byte-identical to the capture.
	c := &Command{Code: 105, Language: "GO", Version: 317, Opaque: 1, ExtFields: map[string]string{"topic": "TopicTest"}, Serialize: RocketMQ}
	got, err := AppendFrame(nil, c)
	if err != nil || !bytes.Equal(got, mustHex(t, routeRequestBinary)) {
		t.Fatalf("binary encoding:\n got %x\nwant %s (%v)", got, routeRequestBinary, err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	cases := []*Command{
		{Code: 10, Language: "GO", Version: 317, Opaque: 7, ExtFields: map[string]string{"topic": "T", "properties": "TAGS\x01A\x02KEYS\x01k\x02", "quote": `a"b\c`}, Body: []byte("hello")},
		{Code: 0, Language: "JAVA", Version: 407, Opaque: 1 << 30, Flag: FlagResponse, Remark: "ünïcode\n\ttab", Body: []byte{0, 1, 2, 255}},
		{Code: -1, Opaque: -5, Flag: FlagOneway},
		{Code: 34, Language: "GO", ExtFields: map[string]string{"": "empty key", "k": ""}},
	}
	for i, c := range cases {
		for _, st := range []SerializeType{JSON, RocketMQ} {
			c.Serialize = st
			frame, err := AppendFrame(nil, c)
			if err != nil {
				t.Fatalf("case %d/%d: %v", i, st, err)
			}
			got, err := DecodeFrame(frame[4:])
			if err != nil {
				t.Fatalf("case %d/%d decode: %v\n%s", i, st, err, frame)
			}
			if !sameCommand(got, c) {
				t.Fatalf("case %d/%d:\n got %+v\nwant %+v", i, st, got, c)
			}
		}
	}
}

func sameCommand(a, b *Command) bool {
	la, lb := a.Language, b.Language
	if a.Serialize == RocketMQ && lb == "" {
		lb = "OTHER"
	}
	return a.Code == b.Code && la == lb && a.Version == b.Version && a.Opaque == b.Opaque && a.Flag == b.Flag &&
		a.Remark == b.Remark && bytes.Equal(a.Body, b.Body) && a.Serialize == b.Serialize &&
		(len(a.ExtFields) == 0 && len(b.ExtFields) == 0 || maps.Equal(a.ExtFields, b.ExtFields))
}

func TestJSONHeaderExtValuesAreStrings(t *testing.T) {
	c := &Command{Code: 0, Flag: FlagResponse, ExtFields: map[string]string{"queueOffset": "5", "ok": "true"}}
	frame, _ := AppendFrame(nil, c)
	if !bytes.Contains(frame, []byte(`"queueOffset":"5"`)) || !bytes.Contains(frame, []byte(`"ok":"true"`)) {
		t.Fatalf("ext values must be JSON strings: %s", frame[8:])
	}
}

func TestJSONHeaderJavaForms(t *testing.T) {
	for _, h := range []string{
		`{"code":0,"flag":1,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":407}`,
		`{ "code" : 0 , "extFields" : null , "remark" : null , "flag":1,"opaque":1}`,
		`{"code":0,"flag":1,"opaque":1,"extFields":{"n":5,"b":true,"z":null,"s":"\u0001\ud83d\ude00"},"other":[1,{"x":[]}]}`,
	} {
		c, err := decodeJSONHeader([]byte(h))
		if err != nil || c.Flag != 1 || c.Opaque != 1 {
			t.Fatalf("%s: %+v %v", h, c, err)
		}
		if strings.Contains(h, `"n":5`) && (c.Ext("n") != "5" || c.Ext("b") != "true" || c.Ext("s") != "\x01😀") {
			t.Fatalf("ext coercion: %v", c.ExtFields)
		}
	}
}

func TestDecodeBadFrames(t *testing.T) {
	for name, frame := range map[string][]byte{
		"short":              {0, 0},
		"header too long":    {0, 0, 0, 9, '{', '}'},
		"unknown type":       {2, 0, 0, 2, '{', '}'},
		"not json":           {0, 0, 0, 3, 'a', 'b', 'c'},
		"code overflow":      append([]byte{0, 0, 0, 14}, `{"code":70000}`...),
		"ext object value":   append([]byte{0, 0, 0, 24}, `{"extFields":{"a":{}}}  `...),
		"trailing data":      append([]byte{0, 0, 0, 3}, `{}x`...),
		"binary short":       {1, 0, 0, 3, 0, 0, 0},
		"binary remark long": append([]byte{1, 0, 0, 21}, 0, 1, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0x7F, 0, 0, 0, 0, 0, 0, 0),
	} {
		if _, err := DecodeFrame(frame); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: err %v, want ErrBadFrame", name, err)
		}
	}
}
