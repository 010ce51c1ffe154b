package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// parseDump reads the bytes of a hex dump as printed in
// rocketmq-wire-protocol.md: an offset, up to 16 two-digit hex bytes, then
// anything (ASCII or notes).
func parseDump(t testing.TB, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		fields := strings.Fields(line)
		for _, f := range fields[1:min(len(fields), 17)] {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				break
			}
			out = append(out, b[0])
		}
	}
	return out
}

// Section 9.4: GET_ROUTEINFO_BY_TOPIC as the Go client writes it.
const dumpRouteRequestJSON = `
0000  00 00 00 70 00 00 00 6c 7b 22 63 6f 64 65 22 3a   |...p...l{"code":|
0010  31 30 35 2c 22 6c 61 6e 67 75 61 67 65 22 3a 22   |105,"language":"|
0020  47 4f 22 2c 22 76 65 72 73 69 6f 6e 22 3a 33 31   |GO","version":31|
0030  37 2c 22 6f 70 61 71 75 65 22 3a 31 2c 22 66 6c   |7,"opaque":1,"fl|
0040  61 67 22 3a 30 2c 22 72 65 6d 61 72 6b 22 3a 22   |ag":0,"remark":"|
0050  22 2c 22 65 78 74 46 69 65 6c 64 73 22 3a 7b 22   |","extFields":{"|
0060  74 6f 70 69 63 22 3a 22 54 6f 70 69 63 54 65 73   |topic":"TopicTes|
0070  74 22 7d 7d                                       |t"}}|
`

// Section 9.4: the same request with a ROCKETMQ binary header.
const dumpRouteRequestBinary = `
0000  00 00 00 2d 01 00 00 29 00 69 09 01 3d 00 00 00   total=45, type=1 len=41, code=105, lang=9(GO), version=317, opaque=
0010  01 00 00 00 00 00 00 00 00 00 00 00 14 00 05 74   1, flag=0, remarkLen=0, extLen=20, keyLen=5 "t
0020  6f 70 69 63 00 00 00 09 54 6f 70 69 63 54 65 73   opic" valLen=9 "TopicTes
0030  74                                                t
`

// Section 9.5: a Java NameServer's answer to it; the dump shows the frame
// up to the start of the body, which is section 4.3's example route.
const dumpRouteResponseJSON = `
0000  00 00 01 51 00 00 00 5f 7b 22 63 6f 64 65 22 3a   |...Q..._{"code":|
0010  30 2c 22 66 6c 61 67 22 3a 31 2c 22 6c 61 6e 67   |0,"flag":1,"lang|
0020  75 61 67 65 22 3a 22 4a 41 56 41 22 2c 22 6f 70   |uage":"JAVA","op|
0030  61 71 75 65 22 3a 31 2c 22 73 65 72 69 61 6c 69   |aque":1,"seriali|
0040  7a 65 54 79 70 65 43 75 72 72 65 6e 74 52 50 43   |zeTypeCurrentRPC|
0050  22 3a 22 4a 53 4f 4e 22 2c 22 76 65 72 73 69 6f   |":"JSON","versio|
0060  6e 22 3a 34 30 37 7d 7b 22 62 72 6f 6b 65 72 44   |n":407}{"brokerD|
0070  61 74 61 73 22 3a 5b ...                          |atas":[...
`

const routeBody = `{"brokerDatas":[{"brokerAddrs":{"0":"192.168.0.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

// routeRequest is the command of section 9.4.
func routeRequest(st SerializeType) *Command {
	return &Command{Code: 105, Language: "GO", Version: 317, Opaque: 1, ExtFields: map[string]string{"topic": "TopicTest"}, Serialize: st}
}

// routeResponseFrame is the whole frame of section 9.5.
func routeResponseFrame(t testing.TB) []byte {
	head := parseDump(t, dumpRouteResponseJSON)[:8+95]
	return append(head, routeBody...)
}

func TestCodecCapturedRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		dump string
		st   SerializeType
		size int
	}{
		{"json", dumpRouteRequestJSON, JSON, 116},
		{"binary", dumpRouteRequestBinary, RocketMQ, 49},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := parseDump(t, tc.dump)
			if len(wire) != tc.size {
				t.Fatalf("dump has %d bytes, the document says %d", len(wire), tc.size)
			}
			got, err := DecodeFrame(wire[4:])
			if err != nil {
				t.Fatal(err)
			}
			if want := routeRequest(tc.st); !equalCommand(got, want) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
			}
			// Encoding the command gives the captured bytes exactly.
			enc, err := AppendFrame(nil, routeRequest(tc.st))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, wire) {
				t.Fatalf("encoded\n%s\nwant\n%s", hex.Dump(enc), hex.Dump(wire))
			}
		})
	}
}

func TestCodecCapturedResponse(t *testing.T) {
	wire := routeResponseFrame(t)
	if len(wire) != 341 || binary.BigEndian.Uint32(wire) != 337 {
		t.Fatalf("frame of %d bytes, length field %d; the document says 341 and 337", len(wire), binary.BigEndian.Uint32(wire))
	}
	got, err := DecodeFrame(wire[4:])
	if err != nil {
		t.Fatal(err)
	}
	want := &Command{Code: 0, Language: "JAVA", Version: 407, Opaque: 1, Flag: FlagResponse, Body: []byte(routeBody)}
	if !equalCommand(got, want) || !got.IsResponse() || got.IsOneway() {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
	// The body aliases the frame: no copy.
	if &got.Body[0] != &wire[8+95] {
		t.Error("Body does not alias the frame")
	}
}

// codecCases are commands that must survive encoding and decoding in both
// header forms. FuzzDecodeFrame is seeded with them.
var codecCases = []struct {
	name string
	cmd  Command
}{
	{"send request", Command{Code: 10, Language: "GO", Version: 317, Opaque: 7, ExtFields: sendMessageExt(), Body: []byte("Hello RocketMQ")}},
	{"send response", Command{Code: 0, Language: "JAVA", Version: 407, Opaque: 7, Flag: FlagResponse,
		ExtFields: map[string]string{"msgId": "C0A8000A00002A9F0000000000000000", "queueId": "1", "queueOffset": "0", "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}}},
	{"pull response", Command{Code: 19, Language: "GO", Version: 407, Opaque: 9, Flag: FlagResponse, Remark: "OFFSET_FOUND_NULL",
		ExtFields: map[string]string{"nextBeginOffset": "1", "minOffset": "0", "maxOffset": "1", "suggestWhichBrokerId": "0"}, Body: bytes.Repeat([]byte{0xDA, 0xA3, 0x20, 0xA7, 0}, 300)}},
	{"oneway", Command{Code: 15, Language: "JAVA", Version: 407, Opaque: 12, Flag: FlagOneway, ExtFields: map[string]string{"consumerGroup": "g", "commitOffset": "42"}}},
	{"no ext no body", Command{Code: 34, Language: "GO", Version: 317, Opaque: 1}},
	{"extremes", Command{Code: math.MinInt16, Language: "GO", Version: math.MaxInt16, Opaque: math.MinInt32, Flag: math.MaxInt32}},
	{"negative", Command{Code: -1, Language: "GO", Version: -2, Opaque: -3, Flag: -4}},
	{"empty key and value", Command{Code: 1, Language: "GO", ExtFields: map[string]string{"": "empty key", "k": ""}}},
	{"escapes", Command{Code: 1, Language: "GO", Remark: "quote \" backslash \\ slash / nl \n cr \r tab \t nul \x00 del \x7f",
		ExtFields: map[string]string{"ctl": "\x01\x02\x03\x1f", "\"key\\": "v\bf\f", "unicode": "ünïcödé 中文 😀 \u2028\u2029 \ufffd"}}},
	{"body with header-like bytes", Command{Code: 11, Language: "GO", Body: []byte(`{"code":1}` + "\x00\x00\x00\x04")}},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range codecCases {
		for _, st := range []SerializeType{JSON, RocketMQ} {
			t.Run(tc.name+"/"+st.String(), func(t *testing.T) {
				want := tc.cmd
				want.Serialize = st
				frame, err := AppendFrame([]byte("prefix"), &want)
				if err != nil {
					t.Fatal(err)
				}
				if string(frame[:6]) != "prefix" {
					t.Fatal("AppendFrame overwrote dst")
				}
				frame = frame[6:]
				total := int(binary.BigEndian.Uint32(frame))
				typ, hl := frame[4], int(binary.BigEndian.Uint32(frame[4:])&0xFFFFFF)
				if total != len(frame)-4 || SerializeType(typ) != st || total != 4+hl+len(want.Body) {
					t.Fatalf("length %d, type %d, header %d for a %d-byte frame with a %d-byte body", total, typ, hl, len(frame), len(want.Body))
				}
				got, err := DecodeFrame(frame[4:])
				if err != nil {
					t.Fatalf("decode: %v\n%s", err, hex.Dump(frame))
				}
				if !equalCommand(got, &want) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, &want)
				}
				if st == JSON {
					checkJSONHeader(t, frame[8:8+hl], &want)
				}
			})
		}
	}
}

// checkJSONHeader decodes a header we wrote with encoding/json, which
// rejects a non-string ext value just as the Go client does.
func checkJSONHeader(t *testing.T, header []byte, want *Command) {
	t.Helper()
	var h struct {
		Code      int16
		Language  string
		Version   int16
		Opaque    int32
		Flag      int32
		Remark    string
		ExtFields map[string]string
	}
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatalf("encoding/json cannot read our header: %v\n%s", err, header)
	}
	got := &Command{Code: h.Code, Language: h.Language, Version: h.Version, Opaque: h.Opaque, Flag: h.Flag, Remark: h.Remark, ExtFields: h.ExtFields, Body: want.Body}
	if !equalCommand(got, want) {
		t.Fatalf("encoding/json reads\n %+v\nwant\n %+v", got, want)
	}
}

func TestJSONHeaderExtValuesAreStrings(t *testing.T) {
	c := NewRequest(10, map[string]string{"queueId": "3", "unitMode": "false", "offset": "-5", "nil": "null", "obj": "{}"}, nil)
	frame, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ ExtFields map[string]any }
	if err := json.Unmarshal(frame[8:], &h); err != nil {
		t.Fatal(err)
	}
	for k, v := range h.ExtFields {
		if s, ok := v.(string); !ok || s != c.ExtFields[k] {
			t.Errorf("ext %q written as %T %v, want the string %q", k, v, v, c.ExtFields[k])
		}
	}
}

func TestJSONHeaderInvalidUTF8(t *testing.T) {
	c := NewRequest(1, map[string]string{"k\xff": "a\xc3(b"}, nil)
	c.Remark = "\xed\xa0\x80" // a surrogate encoded in UTF-8 is invalid too
	frame, err := AppendFrame(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(frame[8:]) {
		t.Fatalf("not JSON: %q", frame[8:])
	}
	got, err := DecodeFrame(frame[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Ext("k\ufffd") != "a\ufffd(b" || got.Remark != "\ufffd\ufffd\ufffd" {
		t.Fatalf("got ext %q remark %q", got.ExtFields, got.Remark)
	}
}

// TestJSONHeaderDecode covers what Java and Go send and the liberties JSON
// allows.
func TestJSONHeaderDecode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		want   Command
	}{
		{"go client", `{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`,
			Command{Code: 105, Language: "GO", Version: 317, Opaque: 1, ExtFields: map[string]string{"topic": "TopicTest"}}},
		{"java sorted keys", `{"code":0,"extFields":{"queueId":"1"},"flag":1,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":407}`,
			Command{Language: "JAVA", Version: 407, Opaque: 3, Flag: 1, ExtFields: map[string]string{"queueId": "1"}}},
		{"minimal", `{"code":0,"flag":1,"opaque":1}`, Command{Opaque: 1, Flag: 1}},
		{"nulls", `{"code":0,"language":null,"remark":null,"extFields":null,"flag":1,"opaque":1}`, Command{Opaque: 1, Flag: 1}},
		{"empty ext", `{"extFields":{}}`, Command{}},
		{"whitespace", " \r\n\t{ \"code\" : 12 ,\n\"extFields\" : { \"a\" : \"b\" , \"c\":\"d\" } } \n",
			Command{Code: 12, ExtFields: map[string]string{"a": "b", "c": "d"}}},
		{"property separators", `{"extFields":{"properties":"TAGS\u0001A\u0002KEYS\u0001k\u0002"}}`,
			Command{ExtFields: map[string]string{"properties": "TAGS\x01A\x02KEYS\x01k\x02"}}},
		{"escapes", `{"remark":"\"\\\/\b\f\n\r\t\u00e9\u4E2D\ud83d\ude00","extFields":{"\u006b":"\u0000"}}`,
			Command{Remark: "\"\\/\b\f\n\r\té中😀", ExtFields: map[string]string{"k": "\x00"}}},
		{"lone surrogates", `{"remark":"\ud800x\udc00\ud800\u0041"}`, Command{Remark: "\ufffdx\ufffd\ufffdA"}},
		{"raw utf-8 and invalid bytes", "{\"remark\":\"é中\xff\xc3\"}", Command{Remark: "é中\ufffd\ufffd"}},
		{"escaped key", `{"\u0063ode":5}`, Command{Code: 5}},
		{"duplicate keys: last wins", `{"code":1,"code":2,"extFields":{"a":"1"},"extFields":{"b":"2","b":"3"}}`,
			Command{Code: 2, ExtFields: map[string]string{"b": "3"}}},
		{"non-string ext values coerced", `{"extFields":{"n":-1.5e+3,"z":0,"t":true,"f":false,"null":null}}`,
			Command{ExtFields: map[string]string{"n": "-1.5e+3", "z": "0", "t": "true", "f": "false"}}},
		{"unknown keys of every kind", `{"a":[1,[{}],{"b":[null,true,"\"]"]}],"c":{"d":{}},"e":-0.5,"f":"x","code":3}`,
			Command{Code: 3}},
		{"null numbers", `{"code":null,"opaque":null}`, Command{}},
		{"negative zero", `{"code":-0}`, Command{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeJSONHeader([]byte(tc.header))
			if err != nil {
				t.Fatal(err)
			}
			if !equalCommand(got, &tc.want) {
				t.Fatalf("got\n %+v\nwant\n %+v", got, &tc.want)
			}
		})
	}
}

// jsonFrame and binaryFrame build a frame (after the length field) around
// a header.
func jsonFrame(header string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(header))), header...)
}

func binaryFrame(header ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, 1<<24|uint32(len(header))), header...)
}

// binaryFixed is a binary header's fixed part up to the remark length:
// code 1, language GO, version 1, opaque 1, flag 0.
var binaryFixed = []byte{0, 1, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}

func binaryWith(tail ...byte) []byte {
	return binaryFrame(append(append([]byte(nil), binaryFixed...), tail...)...)
}

// badFrames are frames (after the length field) that DecodeFrame refuses.
var badFrames = []struct {
	name  string
	frame []byte
}{
	{"empty", nil},
	{"short", []byte{0, 0}},
	{"header longer than frame", []byte{0, 0, 0, 9, '{', '}'}},
	{"unknown serialize type", []byte{2, 0, 0, 2, '{', '}'}},
	{"empty json header", jsonFrame("")},
	{"not json", jsonFrame("abc")},
	{"json array", jsonFrame("[]")},
	{"unterminated object", jsonFrame(`{"code":1`)},
	{"unterminated string", jsonFrame(`{"remark":"abc`)},
	{"key without value", jsonFrame(`{"remark"}`)},
	{"code overflows int16", jsonFrame(`{"code":70000}`)},
	{"version as string", jsonFrame(`{"version":"407"}`)},
	{"opaque overflows int32", jsonFrame(`{"opaque":99999999999}`)},
	{"too many digits", jsonFrame(`{"opaque":0000000000000000000001}`)},
	{"float code", jsonFrame(`{"code":1.5}`)},
	{"exponent code", jsonFrame(`{"code":1e2}`)},
	{"minus alone", jsonFrame(`{"code":-}`)},
	{"ext value object", jsonFrame(`{"extFields":{"a":{}}}`)},
	{"ext value array", jsonFrame(`{"extFields":{"a":[]}}`)},
	{"ext not object", jsonFrame(`{"extFields":"x"}`)},
	{"ext bad number", jsonFrame(`{"extFields":{"a":1.}}`)},
	{"ext bad literal", jsonFrame(`{"extFields":{"a":nul}}`)},
	{"bad escape", jsonFrame(`{"remark":"\x"}`)},
	{"short unicode escape", jsonFrame(`{"remark":"\u12"}`)},
	{"raw control character", jsonFrame("{\"remark\":\"\x01\"}")},
	{"trailing data", jsonFrame(`{}x`)},
	{"missing comma", jsonFrame(`{"code":1 "flag":1}`)},
	{"unknown key bad value", jsonFrame(`{"x":[1,}`)},
	{"nested too deep", jsonFrame(`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`)},
	{"binary shorter than fixed fields", binaryFrame(0, 0, 0)},
	{"binary remark too long", binaryWith(0, 0, 0, 0x7F, 0, 0, 0, 0)},
	{"binary negative remark length", binaryWith(0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0)},
	{"binary ext length mismatch", binaryWith(0, 0, 0, 0, 0, 0, 0, 5)},
	{"binary ext key length cut", binaryWith(0, 0, 0, 0, 0, 0, 0, 1, 0)},
	{"binary ext key too long", binaryWith(0, 0, 0, 0, 0, 0, 0, 4, 0, 9, 'a', 'b')},
	{"binary negative key length", binaryWith(0, 0, 0, 0, 0, 0, 0, 6, 0x80, 0, 0, 0, 0, 0)},
	{"binary value too long", binaryWith(0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 'k', 0, 0, 0, 1)},
	{"binary negative value length", binaryWith(0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 'k', 0xFF, 0xFF, 0xFF, 0xFF)},
}

func TestDecodeFrameErrors(t *testing.T) {
	for _, tc := range badFrames {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := DecodeFrame(tc.frame); !errors.Is(err, ErrBadFrame) {
				t.Fatalf("got %v, %v; want ErrBadFrame", c, err)
			}
		})
	}
}

func TestAppendFrameErrors(t *testing.T) {
	long := strings.Repeat("k", math.MaxInt16+1)
	for _, tc := range []struct {
		name string
		cmd  *Command
		want error
	}{
		{"unknown serialize type", &Command{Serialize: 7}, ErrBadFrame},
		{"binary key too long", &Command{Serialize: RocketMQ, ExtFields: map[string]string{long: ""}}, ErrBadFrame},
		{"header too long", &Command{Remark: strings.Repeat("r", maxHeaderLen)}, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, err := AppendFrame([]byte("keep"), tc.cmd)
			if !errors.Is(err, tc.want) || string(dst) != "keep" {
				t.Fatalf("got %q, %v; want dst unchanged and %v", dst[:min(len(dst), 8)], err, tc.want)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	frame, _ := AppendFrame(nil, routeRequest(JSON))
	for _, tc := range []struct {
		name  string
		input []byte
		max   int
		want  error // nil: frame expected
	}{
		{"whole", frame, 1 << 10, nil},
		{"at the limit", frame, len(frame) - 4, nil},
		{"over the limit", frame, len(frame) - 5, ErrFrameTooLarge},
		{"clean EOF", nil, 1 << 10, io.EOF},
		{"EOF in the length", frame[:3], 1 << 10, ErrBadFrame},
		{"EOF in the frame", frame[:len(frame)-1], 1 << 10, ErrBadFrame},
		{"length below 4", []byte{0, 0, 0, 3, 0, 0, 0}, 1 << 10, ErrBadFrame},
		{"length 2^32-1", []byte{0xFF, 0xFF, 0xFF, 0xFF}, DefaultMaxFrameSize, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: every partial read is exercised.
			r := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(tc.input)), 16)
			got, err := readFrame(r, tc.max)
			if tc.want == nil {
				if err != nil || !bytes.Equal(got, frame[4:]) {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == io.EOF && err != io.EOF {
				t.Fatalf("clean EOF must be io.EOF itself, got %v", err)
			}
		})
	}
}

func TestCommandHelpers(t *testing.T) {
	req := NewRequest(10, map[string]string{"topic": "T"}, []byte("b"))
	req.Opaque, req.Serialize = 42, RocketMQ
	if req.IsResponse() || req.IsOneway() || req.Ext("topic") != "T" || req.Ext("none") != "" || req.Language != "GO" || req.Version != 407 {
		t.Fatalf("request: %+v", req)
	}
	resp := NewResponse(req, 1, "err")
	if !resp.IsResponse() || resp.Opaque != 42 || resp.Serialize != RocketMQ || resp.Code != 1 || resp.Remark != "err" {
		t.Fatalf("response: %+v", resp)
	}
	if s := resp.String(); !strings.Contains(s, "response code=1 opaque=42") {
		t.Fatalf("String: %s", s)
	}
	if (&Command{}).Ext("x") != "" {
		t.Fatal("Ext on a nil map")
	}
}

// TestJSONHeaderManyColons: the ext map's size hint counts colons; a header
// full of them must not reserve a map for each. (Found by FuzzDecodeFrame
// as a slowdown: a megabyte of colons reserved a million-entry map.)
func TestJSONHeaderManyColons(t *testing.T) {
	header := []byte(`{"extFields":{"a":"` + strings.Repeat(":", 1<<20) + `"}}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := decodeJSONHeader(header)
	runtime.ReadMemStats(&after)
	if err != nil || len(c.Ext("a")) != 1<<20 {
		t.Fatalf("decode: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 3<<20 {
		t.Fatalf("decoding a 1 MiB header allocated %d bytes", n)
	}
}
