package clientip

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1 ::1")
	if err != nil {
		t.Fatal(err)
	}
	r := New(trusted)
	for _, tc := range []struct {
		name   string
		remote string
		header http.Header
		want   string
	}{
		{"direct client", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header is ignored", "203.0.113.5:4000", http.Header{"X-Forwarded-For": {"1.1.1.1"}}, "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7, 10.9.9.9"}}, "198.51.100.7"},
		{"spoofed first hop stays unused", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"6.6.6.6", "198.51.100.7"}}, "198.51.100.7"},
		{"all hops trusted", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"10.2.2.2"}}, "10.2.2.2"},
		{"garbage hop", "10.1.2.3:80", http.Header{"X-Forwarded-For": {"nonsense"}}, "10.1.2.3"},
		{"trusted proxy without header", "192.168.1.1:80", nil, "192.168.1.1"},
		{"forwarded wins", "[::1]:80", http.Header{"Forwarded": {`for="[2001:db8::7]:443";proto=https`}, "X-Forwarded-For": {"1.1.1.1"}}, "2001:db8::7"},
		{"forwarded list", "[::1]:80", http.Header{"Forwarded": {"for=6.6.6.6, for=198.51.100.9"}}, "198.51.100.9"},
		{"mapped v4 peer", "[::ffff:10.1.2.3]:80", http.Header{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &http.Request{RemoteAddr: tc.remote, Header: tc.header}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			if got := r.Addr(req); got != netip.MustParseAddr(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAddrBadRemote(t *testing.T) {
	if a := New(nil).Addr(&http.Request{RemoteAddr: "pipe"}); a.IsValid() {
		t.Errorf("got %v for an unusable peer address", a)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes("")
	if err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	_, err = ParsePrefixes("10.0.0.0/8,bad,10.0.0.0/99")
	if !errors.Is(err, ErrBadPrefix) {
		t.Fatalf("got %v, want ErrBadPrefix", err)
	}
	if want := `clientip: bad CIDR "bad"` + "\n" + `clientip: bad CIDR "10.0.0.0/99"`; err.Error() != want {
		t.Errorf("got %q, want every bad entry: %q", err, want)
	}
}
