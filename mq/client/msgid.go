package client

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// idGen makes unique message IDs (the UNIQ_KEY property) in RocketMQ's
// layout: client IPv4 (4 bytes), pid (2), a random per-process value (4),
// milliseconds since the start of the month (4), a counter (2), as 32
// upper-case hex characters.
type idGen struct {
	mu      sync.Mutex
	prefix  [10]byte
	month   time.Time
	counter uint16
}

func newIDGen() *idGen {
	g := &idGen{}
	copy(g.prefix[:4], localIPv4())
	binary.BigEndian.PutUint16(g.prefix[4:], uint16(os.Getpid()))
	binary.BigEndian.PutUint32(g.prefix[6:], rand.Uint32())
	return g
}

func (g *idGen) next() string {
	g.mu.Lock()
	now := time.Now()
	if now.Year() != g.month.Year() || now.Month() != g.month.Month() {
		g.month = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	}
	g.counter++
	var b [16]byte
	copy(b[:], g.prefix[:])
	binary.BigEndian.PutUint32(b[10:], uint32(now.Sub(g.month).Milliseconds()))
	binary.BigEndian.PutUint16(b[14:], g.counter)
	g.mu.Unlock()
	const digits = "0123456789ABCDEF"
	var out [32]byte
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xf]
	}
	return string(out[:])
}

// localIPv4 is the first non-loopback IPv4 address, or 127.0.0.1.
func localIPv4() net.IP {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
				if v4 := n.IP.To4(); v4 != nil {
					return v4
				}
			}
		}
	}
	return net.IPv4(127, 0, 0, 1).To4()
}
