package loadtest

import (
	"fmt"
	"net/http"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// userHeader carries a request's user from the targeter to its result. The
// transport takes it off the request before it leaves and puts it on the
// response, where vegeta's Result.Headers shows it; the gateway never
// sees it.
const userHeader = "X-Loadtest-User"

// Users picks the user of each request: request i goes to a user drawn
// from n by a seeded hash of i, so a run is repeatable, every user is about
// equally likely, and some users send more than once (the gateway's
// per-user limit and the one-order-per-user rule get exercised).
type Users struct {
	N    int
	Seed uint64
}

// Name returns the user of request i.
func (u Users) Name(i uint64) string {
	return fmt.Sprintf("u-%07d", splitmix64(u.Seed^i)%uint64(u.N))
}

// splitmix64 is a bijective mixer of 64-bit values (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// seckillTargeter posts {"user_id"} to the activity's seckill URL, one
// user per request. It is safe for concurrent use, as vegeta needs.
func seckillTargeter(url string, users Users) vegeta.Targeter {
	var next atomic.Uint64
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	return func(t *vegeta.Target) error {
		user := users.Name(next.Add(1) - 1)
		h := hdr.Clone()
		h.Set(userHeader, user)
		*t = vegeta.Target{Method: http.MethodPost, URL: url, Header: h,
			Body: fmt.Appendf(nil, `{"user_id":%q}`, user)}
		return nil
	}
}

// userTransport moves userHeader from the request to the response.
type userTransport struct{ next http.RoundTripper }

func (t userTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	user := req.Header.Get(userHeader)
	if user != "" {
		req = req.Clone(req.Context())
		req.Header.Del(userHeader)
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && user != "" {
		resp.Header.Set(userHeader, user)
	}
	return resp, err
}
