// Package clientip finds the address of the client behind an HTTP request.
// X-Forwarded-For and Forwarded are believed only when the request comes
// from a trusted proxy; anyone else could write them.
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds client addresses. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// ErrBadPrefix is wrapped by ParsePrefixes' errors.
var ErrBadPrefix = errors.New("clientip: bad CIDR")

// ParsePrefixes parses a comma- or space-separated list of CIDRs (a bare
// address counts as a /32 or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("%w %q", ErrBadPrefix, f))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}

// New returns a Resolver trusting proxies in the given networks.
func New(trusted []netip.Prefix) *Resolver { return &Resolver{trusted: trusted} }

// Addr returns the client's address: the peer's, or, when the peer is a
// trusted proxy, the nearest address in the forwarding headers that is not
// itself a trusted proxy. The zero Addr means the peer address is unusable.
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !r.isTrusted(addr) {
		return addr
	}
	hops := forwardedFor(req.Header)
	// Walk from the nearest hop back towards the client.
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return addr // a hop we cannot read: stop at the last one we trust
		}
		addr = a
		if !r.isTrusted(a) {
			break
		}
	}
	return addr
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the hops of the Forwarded header (RFC 7239 for=), or
// of X-Forwarded-For when there is no Forwarded header, client first.
func forwardedFor(h http.Header) []string {
	var hops []string
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		for _, line := range fwd {
			for elem := range strings.SplitSeq(line, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						hops = append(hops, v)
					}
				}
			}
		}
		return hops
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads one address: 1.2.3.4, "[2001:db8::1]:443", 1.2.3.4:80.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}
