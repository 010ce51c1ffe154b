package protocol

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"unicode/utf16"
)

// OffsetMessageID renders the broker-side message ID: upper-case hex of the
// store host's IP, its port (int32) and the commit-log offset (int64). For an
// IPv4 host it is 32 characters, the only form the Go client can parse.
func OffsetMessageID(storeHost netip.AddrPort, offset int64) string {
	var buf [56]byte
	return string(AppendOffsetMessageID(buf[:0], storeHost, offset))
}

// AppendOffsetMessageID appends OffsetMessageID(storeHost, offset) to dst,
// so that the IDs of a batch go into one buffer.
func AppendOffsetMessageID(dst []byte, storeHost netip.AddrPort, offset int64) []byte {
	var buf [28]byte
	ip := storeHost.Addr().Unmap()
	n := 0
	switch {
	case ip.Is4():
		b := ip.As4()
		n = copy(buf[:], b[:])
	case ip.Is6():
		b := ip.As16()
		n = copy(buf[:], b[:])
	default:
		// No address: 0.0.0.0, as the record encoder writes it.
		n = 4
	}
	binary.BigEndian.PutUint32(buf[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(buf[n+4:], uint64(offset))
	const upperHex = "0123456789ABCDEF"
	for _, c := range buf[:n+12] {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xF])
	}
	return dst
}

// ParseOffsetMessageID splits an offset message ID into store host and
// commit-log offset. It accepts the IPv4 (32 characters) and IPv6 (56) forms,
// in either case, and refuses a port that does not fit 16 bits.
func ParseOffsetMessageID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return netip.AddrPort{}, 0, fmt.Errorf("message id %q: want 32 or 56 hex characters", id)
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("message id %q: %w", id, err)
	}
	n := len(b) - 12
	addr, _ := netip.AddrFromSlice(b[:n])
	port := binary.BigEndian.Uint32(b[n:])
	if port > 0xFFFF {
		return netip.AddrPort{}, 0, fmt.Errorf("message id %q: port %d out of range", id, port)
	}
	off := int64(binary.BigEndian.Uint64(b[n+4:]))
	return netip.AddrPortFrom(addr, uint16(port)), off, nil
}

// TagHash is the tag code of a consume-queue entry: Java's String.hashCode of
// the tag (31*h + c over UTF-16 code units, 32-bit wrap-around), 0 for no tag.
// Brokers filter by it; clients then compare the tag strings.
func TagHash(tag string) int64 {
	var h int32
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if c >= 0x80 {
			return tagHashSlow(tag)
		}
		h = 31*h + int32(c)
	}
	return int64(h)
}

func tagHashSlow(tag string) int64 {
	var h int32
	for _, u := range utf16.Encode([]rune(tag)) {
		h = 31*h + int32(u)
	}
	return int64(h)
}
