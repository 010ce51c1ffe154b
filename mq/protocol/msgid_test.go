package protocol

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOffsetMessageID(t *testing.T) {
	tests := []struct {
		host   string
		offset int64
		want   string
	}{
		// Doc 7.8: the worked example's offset id.
		{"192.168.0.10:10911", 0, "C0A8000A00002A9F0000000000000000"},
		// Doc 7.6.
		{"192.168.0.10:10911", 1234567, "C0A8000A00002A9F000000000012D687"},
		{"[::ffff:192.168.0.10]:10911", 1234567, "C0A8000A00002A9F000000000012D687"},
		{"[2001:db8::1]:10911", 1, "20010DB800000000000000000000000100002A9F0000000000000001"},
		{"10.0.0.1:65535", -1, "0A00000100" + "00FFFF" + "FFFFFFFFFFFFFFFF"},
	}
	for _, tt := range tests {
		host := netip.MustParseAddrPort(tt.host)
		got := OffsetMessageID(host, tt.offset)
		if got != tt.want {
			t.Errorf("OffsetMessageID(%s, %d) = %s, want %s", tt.host, tt.offset, got, tt.want)
			continue
		}
		back, off, err := ParseOffsetMessageID(got)
		if err != nil {
			t.Errorf("ParseOffsetMessageID(%s): %v", got, err)
			continue
		}
		if back != netip.AddrPortFrom(host.Addr().Unmap(), host.Port()) || off != tt.offset {
			t.Errorf("ParseOffsetMessageID(%s) = %s, %d", got, back, off)
		}
	}
}

func TestOffsetMessageIDZeroHost(t *testing.T) {
	// Regression: the zero AddrPort made OffsetMessageID panic.
	if got := OffsetMessageID(netip.AddrPort{}, 5); got != "0000000000000000"+"0000000000000005" {
		t.Errorf("OffsetMessageID(zero) = %s", got)
	}
}

func TestParseOffsetMessageIDLowerCase(t *testing.T) {
	host, off, err := ParseOffsetMessageID(strings.ToLower("C0A8000A00002A9F000000000012D687"))
	if err != nil || host.String() != "192.168.0.10:10911" || off != 1234567 {
		t.Errorf("got %s %d %v", host, off, err)
	}
}

func TestParseOffsetMessageIDErrors(t *testing.T) {
	for _, id := range []string{
		"",
		"C0A8000A00002A9F000000000012D68",   // 31 chars
		"C0A8000A00002A9F000000000012D6870", // 33 chars
		"C0A8000A00002A9F000000000012D6ZZ",  // not hex
		"C0A8000A00012A9F000000000012D687",  // port 76447
		"C00002024236000000006e60b2d80001" + "XXXXXXXXXXXXXXXXXXXXXXXX",
	} {
		if _, _, err := ParseOffsetMessageID(id); err == nil {
			t.Errorf("ParseOffsetMessageID(%q) succeeded", id)
		}
	}
}

func TestTagHash(t *testing.T) {
	// Doc 7.9, values of Java's String.hashCode.
	for tag, want := range map[string]int64{
		"TagA": 2598919,
		"TagB": 2598920,
		"*":    42,
		"":     0,
		"标签":   857175,
		// Overflow wraps in 32 bits and the code is sign-extended.
		"polygenelubricants": -2147483648,
		"hello world":        1794106052,
		// A supplementary character hashes as two UTF-16 code units.
		"😀": 1772899,
		// The fast ASCII path hands over to UTF-16 mid-string.
		"a标": 29638,
	} {
		if got := TagHash(tag); got != want {
			t.Errorf("TagHash(%q) = %d, want %d", tag, got, want)
		}
	}
}

func TestAppendOffsetMessageID(t *testing.T) {
	// A batch's IDs rendered into one buffer equal the IDs one by one.
	for _, h := range []string{"192.168.0.10:10911", "[2001:db8::1]:10911", "[::ffff:10.0.0.1]:1"} {
		host := netip.MustParseAddrPort(h)
		var buf []byte
		var want []string
		for i, off := range []int64{0, 1, 1234567, -1} {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendOffsetMessageID(buf, host, off)
			want = append(want, OffsetMessageID(host, off))
		}
		if got := string(buf); got != strings.Join(want, ",") {
			t.Errorf("%s: appended %q, one by one %q", h, got, strings.Join(want, ","))
		}
	}
}

// BenchmarkAppendOffsetMessageID measures rendering the 32 IDs of a batch
// send's response.
func BenchmarkAppendOffsetMessageID(b *testing.B) {
	host := netip.MustParseAddrPort("192.168.0.10:10911")
	buf := make([]byte, 0, 32*33)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range int64(32) {
			buf = AppendOffsetMessageID(append(buf, ','), host, 1<<30+i*1200)
		}
	}
}
