package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

// readHex loads a hex dump from testdata: '#' starts a comment, whitespace
// is ignored.
func readHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(raw)) {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// workedExample is the message of doc section 7.8.
func workedExample() *Message {
	return &Message{
		QueueID:        1,
		BornTimestamp:  1700000000000,
		BornHost:       netip.MustParseAddrPort("192.168.0.20:53412"),
		StoreTimestamp: 1700000000005,
		StoreHost:      netip.MustParseAddrPort("192.168.0.10:10911"),
		Body:           []byte("hello"),
		Topic:          "TopicTest",
		Properties:     "TAGS\x01TagA\x02UNIQ_KEY\x01C0A800140A5C0000000018D1CDB60001\x02CLUSTER\x01DefaultCluster",
	}
}

func TestMessageWorkedExampleDecode(t *testing.T) {
	golden := readHex(t, "stored-message-7.8.hex")
	if len(golden) != 179 {
		t.Fatalf("golden record is %d bytes, want 179", len(golden))
	}
	m, err := DecodeMessage(golden, true)
	if err != nil {
		t.Fatal(err)
	}
	want := workedExample()
	want.BodyCRC = 907060870
	if !reflect.DeepEqual(m, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", m, want)
	}
	if got := m.EncodedSize(); got != 179 {
		t.Errorf("EncodedSize = %d, want 179", got)
	}
	if got := OffsetMessageID(m.StoreHost, m.PhysicalOffset); got != "C0A8000A00002A9F0000000000000000" {
		t.Errorf("offset msg id = %s", got)
	}
	for name, want := range map[string]string{
		PropertyTags:    "TagA",
		PropertyUniqKey: "C0A800140A5C0000000018D1CDB60001",
		PropertyCluster: "DefaultCluster",
		PropertyKeys:    "",
	} {
		if got := m.Property(name); got != want {
			t.Errorf("Property(%s) = %q, want %q", name, got, want)
		}
	}
	size, magic, err := RecordSize(golden)
	if err != nil || size != 179 || magic != MessageMagic {
		t.Errorf("RecordSize = %d, %#x, %v", size, magic, err)
	}
}

func TestMessageWorkedExampleEncode(t *testing.T) {
	golden := readHex(t, "stored-message-7.8.hex")
	m := workedExample()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, m.EncodedSize())
	if n := m.Encode(buf); n != len(golden) {
		t.Fatalf("Encode wrote %d bytes, want %d", n, len(golden))
	}
	if !bytes.Equal(buf, golden) {
		t.Errorf("encoded\n%x\nwant\n%x", buf, golden)
	}
	if m.BodyCRC != 907060870 {
		t.Errorf("Encode set BodyCRC %d, want 907060870", m.BodyCRC)
	}
	prefix := []byte("prefix")
	if got := workedExample().AppendEncode(prefix); !bytes.Equal(got, append(prefix, golden...)) {
		t.Errorf("AppendEncode = %x", got)
	}
}

func TestBodyChecksum(t *testing.T) {
	for body, want := range map[string]uint32{"hello": 907060870, "": 0} {
		if got := BodyChecksum([]byte(body)); got != want {
			t.Errorf("BodyChecksum(%q) = %d, want %d", body, got, want)
		}
	}
	// The mask clears bit 31: CRC32("a") is 0xE8B7BE43.
	if got := BodyChecksum([]byte("a")); got != 0x68B7BE43 {
		t.Errorf("BodyChecksum(a) = %#x, want 0x68b7be43", got)
	}
}

func TestMessageRoundTrip(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.1.2.3:10911")
	v6 := netip.MustParseAddrPort("[2001:db8::7]:10911")
	tests := []struct {
		name string
		m    Message
		// sys is the SYSFLAG the record must carry.
		sys int32
	}{
		{"ipv4 hosts", Message{BornHost: v4, StoreHost: v4, Topic: "T", Body: []byte("x")}, 0},
		{"ipv6 born host", Message{BornHost: v6, StoreHost: v4, Topic: "T"}, FlagBornHostV6},
		{"ipv6 store host", Message{BornHost: v4, StoreHost: v6, Topic: "T"}, FlagStoreHostV6},
		{"ipv6 both", Message{BornHost: v6, StoreHost: v6, Topic: "T", Properties: "A\x01b\x02"}, FlagBornHostV6 | FlagStoreHostV6},
		{"every field", Message{
			QueueID: 7, Flag: -3, QueueOffset: 1 << 40, PhysicalOffset: 1<<62 + 5,
			SysFlag: FlagCompressed | TransactionCommit, BornTimestamp: -1,
			BornHost: v4, StoreTimestamp: 1 << 41, StoreHost: v6, ReconsumeTimes: 16,
			PreparedTransactionOffset: 99, Body: bytes.Repeat([]byte{0xAB}, 5000),
			Topic: "%RETRY%cg", Properties: "TAGS\x01标签\x02",
		}, FlagCompressed | TransactionCommit | FlagStoreHostV6},
		{"empty body topic properties", Message{BornHost: v4, StoreHost: v4}, 0},
		{"max topic and properties", Message{
			BornHost: v4, StoreHost: v4,
			Topic:      strings.Repeat("t", MaxTopicLength),
			Properties: strings.Repeat("p", MaxPropertiesLength),
		}, 0},
		{"stale host bits are corrected", Message{BornHost: v4, StoreHost: v4, SysFlag: FlagBornHostV6 | FlagStoreHostV6}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			rec := m.AppendEncode(nil)
			if len(rec) != m.EncodedSize() {
				t.Fatalf("record %d bytes, EncodedSize %d", len(rec), m.EncodedSize())
			}
			got, err := DecodeMessage(rec, true)
			if err != nil {
				t.Fatal(err)
			}
			if got.SysFlag != tt.sys {
				t.Errorf("SysFlag = %#x, want %#x", got.SysFlag, tt.sys)
			}
			want := m
			want.SysFlag = tt.sys
			if want.Body == nil {
				want.Body = []byte{}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, &want)
			}
			if again := got.AppendEncode(nil); !bytes.Equal(again, rec) {
				t.Error("re-encoding the decoded message changed the bytes")
			}
		})
	}
}

func TestMessageEncodeUnmapsIPv4InIPv6(t *testing.T) {
	m := Message{
		BornHost:  netip.MustParseAddrPort("[::ffff:192.0.2.2]:40000"),
		StoreHost: netip.MustParseAddrPort("[::ffff:192.0.2.1]:10911"),
		SysFlag:   FlagBornHostV6 | FlagStoreHostV6,
		Topic:     "T",
	}
	if got := m.EncodedSize(); got != minRecordSize+1 {
		t.Fatalf("EncodedSize = %d, want %d (IPv4 form)", got, minRecordSize+1)
	}
	got, err := DecodeMessage(m.AppendEncode(nil), true)
	if err != nil {
		t.Fatal(err)
	}
	if got.SysFlag != 0 {
		t.Errorf("SysFlag = %#x, want the host bits cleared", got.SysFlag)
	}
	if got.BornHost.String() != "192.0.2.2:40000" || got.StoreHost.String() != "192.0.2.1:10911" {
		t.Errorf("hosts %s %s", got.BornHost, got.StoreHost)
	}
}

func TestMessageEncodeZeroHosts(t *testing.T) {
	m := Message{Topic: "T"}
	got, err := DecodeMessage(m.AppendEncode(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.BornHost.String() != "0.0.0.0:0" || got.StoreHost.String() != "0.0.0.0:0" {
		t.Errorf("hosts %s %s, want 0.0.0.0:0", got.BornHost, got.StoreHost)
	}
}

func TestMessageValidate(t *testing.T) {
	long := Message{Topic: strings.Repeat("t", MaxTopicLength+1)}
	if err := long.Validate(); !errors.Is(err, ErrTopicLength) {
		t.Errorf("long topic: %v", err)
	}
	big := Message{Topic: "T", Properties: strings.Repeat("p", MaxPropertiesLength+1)}
	if err := big.Validate(); !errors.Is(err, ErrPropsLength) {
		t.Errorf("long properties: %v", err)
	}
}

// corrupt returns a copy of the worked example with f applied.
func corrupt(t *testing.T, f func(b []byte) []byte) []byte {
	b := bytes.Clone(readHex(t, "stored-message-7.8.hex"))
	return f(b)
}

func TestDecodeMessageErrors(t *testing.T) {
	be := binary.BigEndian
	// Offsets in the worked example: BODYLENGTH at 84, TOPICLENGTH at 93,
	// PROPERTIESLENGTH at 103.
	tests := []struct {
		name      string
		rec       []byte
		verifyCRC bool
		want      error
	}{
		{"empty", nil, false, ErrTruncated},
		{"seven bytes", []byte{0, 0, 0, 179, 0xDA, 0xA3, 0x20}, false, ErrTruncated},
		{"bad magic", corrupt(t, func(b []byte) []byte { b[4] = 0; return b }), false, ErrBadMagic},
		{"blank magic", corrupt(t, func(b []byte) []byte { be.PutUint32(b[4:], BlankMagic); return b }), false, ErrBadMagic},
		{"total size below minimum", corrupt(t, func(b []byte) []byte { be.PutUint32(b, 90); return b }), false, ErrBadLength},
		{"negative total size", corrupt(t, func(b []byte) []byte { be.PutUint32(b, 0xFFFFFFF0); return b }), false, ErrBadLength},
		{"total size beyond data", corrupt(t, func(b []byte) []byte { be.PutUint32(b, 180); return b }), false, ErrTruncated},
		{"total size short of fields", corrupt(t, func(b []byte) []byte { be.PutUint32(b, 178); return b }), false, ErrBadLength},
		{"body length too long", corrupt(t, func(b []byte) []byte { be.PutUint32(b[84:], 200); return b }), false, ErrBadLength},
		{"body length negative", corrupt(t, func(b []byte) []byte { be.PutUint32(b[84:], 0xFFFFFFFF); return b }), false, ErrBadLength},
		{"topic length too long", corrupt(t, func(b []byte) []byte { b[93] = 0xFF; return b }), false, ErrBadLength},
		{"properties length short", corrupt(t, func(b []byte) []byte { be.PutUint16(b[103:], 73); return b }), false, ErrBadLength},
		{"properties length long", corrupt(t, func(b []byte) []byte { be.PutUint16(b[103:], 75); return b }), false, ErrBadLength},
		{"ipv6 flags on a minimal ipv4 record", patch((&Message{}).AppendEncode(nil), func(b []byte) { be.PutUint32(b[36:], 0x30) }), false, ErrBadLength},
		{"ipv6 flag shifts the port", corrupt(t, func(b []byte) []byte { be.PutUint32(b[36:], 0x30); return b }), false, ErrBadHost},
		{"born host port above 65535", corrupt(t, func(b []byte) []byte { be.PutUint32(b[52:], 0x10000); return b }), false, ErrBadHost},
		{"store host port above 65535", corrupt(t, func(b []byte) []byte { be.PutUint32(b[68:], 0x30303030); return b }), false, ErrBadHost},
		{"body crc mismatch", corrupt(t, func(b []byte) []byte { b[11]++; return b }), true, ErrBadCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage(tt.rec, tt.verifyCRC)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m != nil {
				t.Errorf("got a message with an error: %+v", m)
			}
		})
	}
	t.Run("crc mismatch passes without verification", func(t *testing.T) {
		rec := corrupt(t, func(b []byte) []byte { b[11]++; return b })
		if _, err := DecodeMessage(rec, false); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDecodeMessageEveryTruncation(t *testing.T) {
	golden := readHex(t, "stored-message-7.8.hex")
	for n := range len(golden) {
		if _, err := DecodeMessage(golden[:n], false); !errors.Is(err, ErrTruncated) {
			t.Errorf("first %d bytes: err = %v, want ErrTruncated", n, err)
		}
	}
	// Trailing bytes belong to the next record and are not read.
	if _, err := DecodeMessage(append(bytes.Clone(golden), 1, 2, 3), true); err != nil {
		t.Errorf("record with trailing bytes: %v", err)
	}
}

func TestDecodeMessages(t *testing.T) {
	golden := readHex(t, "stored-message-7.8.hex")
	// A record whose 16-byte born host holds an IPv4-mapped address: its
	// decoded form re-encodes 12 bytes shorter, so DecodeMessages must step
	// by TOTALSIZE (regression: it stepped by EncodedSize and misread the
	// next record).
	mapped := Message{
		BornHost:  netip.MustParseAddrPort("[2001:db8::1]:1"),
		StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
		Topic:     "T", Body: []byte("mapped"),
	}
	rec := mapped.AppendEncode(nil)
	copy(rec[48:64], netip.MustParseAddr("::ffff:10.9.9.9").AsSlice())
	body := append(append(append([]byte{}, golden...), rec...), golden...)
	msgs, err := DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("decoded %d messages, want 3", len(msgs))
	}
	if string(msgs[1].Body) != "mapped" || msgs[2].Topic != "TopicTest" {
		t.Errorf("messages: %q %q", msgs[1].Body, msgs[2].Topic)
	}

	_, err = DecodeMessages(append(bytes.Clone(golden), 0, 0, 0))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "record 1") {
		t.Errorf("trailing garbage: err = %v", err)
	}
	if msgs, err := DecodeMessages(nil); err != nil || len(msgs) != 0 {
		t.Errorf("empty body: %v, %v", msgs, err)
	}
}

func TestDecodedBodyAliasesInput(t *testing.T) {
	golden := bytes.Clone(readHex(t, "stored-message-7.8.hex"))
	m, err := DecodeMessage(golden, false)
	if err != nil {
		t.Fatal(err)
	}
	if cap(m.Body) != len(m.Body) {
		t.Errorf("Body capacity %d exceeds its length %d: appends would overwrite the record", cap(m.Body), len(m.Body))
	}
	golden[88] = 'H'
	if string(m.Body) != "Hello" {
		t.Errorf("Body = %q, want it to alias the record", m.Body)
	}
}
