package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// Magic codes at byte 4 of a commit-log record.
const (
	// MessageMagic marks a message record. It is the only magic the official
	// clients can decode.
	MessageMagic uint32 = 0xDAA320A7
	// BlankMagic marks the filler that ends a commit-log segment whose tail
	// cannot hold the next message. It never leaves the broker.
	BlankMagic uint32 = 0xCBD43194
)

// Message system flag bits (the SYSFLAG field).
const (
	FlagCompressed    int32 = 0x1
	FlagMultiTags     int32 = 0x2
	TransactionMask   int32 = 0xC
	TransactionNot    int32 = 0x0
	TransactionPrep   int32 = 0x4
	TransactionCommit int32 = 0x8
	TransactionRoll   int32 = 0xC
	FlagBornHostV6    int32 = 0x10
	FlagStoreHostV6   int32 = 0x20
)

// Limits of the record layout: one length byte for the topic, an int16 for the
// properties.
const (
	MaxTopicLength      = 127
	MaxPropertiesLength = 32767
	// minRecordSize is the size of a record with IPv4 hosts, an empty body,
	// topic and properties.
	minRecordSize = 91
)

// Errors returned by the message codec. Compare with errors.Is.
var (
	ErrTruncated   = errors.New("protocol: record truncated")
	ErrBadMagic    = errors.New("protocol: bad magic code")
	ErrBadLength   = errors.New("protocol: record length fields disagree")
	ErrBadCRC      = errors.New("protocol: body CRC mismatch")
	ErrTopicLength = errors.New("protocol: topic longer than 127 bytes")
	ErrPropsLength = errors.New("protocol: properties longer than 32767 bytes")
	ErrBadHost     = errors.New("protocol: host port out of range")
)

// Message is one stored message: a commit-log record in RocketMQ's layout
// (magic 0xDAA320A7), which is also what a pull returns to a client.
//
//	off  size field
//	0    4    TOTALSIZE (the record, this field included)
//	4    4    MAGICCODE 0xDAA320A7
//	8    4    BODYCRC (CRC32-IEEE of the body & 0x7FFFFFFF)
//	12   4    QUEUEID
//	16   4    FLAG
//	20   8    QUEUEOFFSET
//	28   8    PHYSICALOFFSET (commit-log offset of this record)
//	36   4    SYSFLAG
//	40   8    BORNTIMESTAMP (ms)
//	48   8/20 BORNHOST (IPv4 + int32 port, or IPv6 + port when SYSFLAG&0x10)
//	..   8    STORETIMESTAMP (ms)
//	..   8/20 STOREHOST (IPv4 or IPv6 when SYSFLAG&0x20)
//	..   4    RECONSUMETIMES
//	..   8    PREPAREDTRANSACTIONOFFSET
//	..   4+n  BODYLENGTH, BODY
//	..   1+t  TOPICLENGTH, TOPIC
//	..   2+p  PROPERTIESLENGTH, PROPERTIES
type Message struct {
	BodyCRC                   uint32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     string
	// Properties is the raw properties text (see ParseProperties).
	Properties string
}

func hostLen(a netip.AddrPort) int {
	if a.Addr().Unmap().Is4() || !a.Addr().IsValid() {
		return 8
	}
	return 20
}

// EncodedSize returns the size of m's record.
func (m *Message) EncodedSize() int {
	return minRecordSize - 16 + hostLen(m.BornHost) + hostLen(m.StoreHost) +
		len(m.Body) + len(m.Topic) + len(m.Properties)
}

// Validate reports whether m can be encoded: topic and properties within
// their length fields.
func (m *Message) Validate() error {
	if len(m.Topic) > MaxTopicLength {
		return fmt.Errorf("topic %q: %w", m.Topic, ErrTopicLength)
	}
	if len(m.Properties) > MaxPropertiesLength {
		return fmt.Errorf("%d bytes: %w", len(m.Properties), ErrPropsLength)
	}
	return nil
}

// BodyChecksum is the BODYCRC of a body: CRC32-IEEE masked to 31 bits, as the
// Java broker computes it.
func BodyChecksum(body []byte) uint32 {
	return crc32.ChecksumIEEE(body) & 0x7FFFFFFF
}

// Encode writes m's record into dst, which must hold EncodedSize bytes, and
// returns the record size. It sets the host sysflag bits to match the hosts
// and computes BODYCRC when m.BodyCRC is zero. Call Validate first.
//
// An IPv4-mapped IPv6 host is written in the 4-byte IPv4 form, because the
// official clients cannot read 16-byte hosts (and a dual-stack listener
// reports IPv4 peers that way). So a decoded record re-encodes to the same
// bytes except when a 16-byte host field held such an address or BODYCRC
// was zero for a body whose checksum is not.
func (m *Message) Encode(dst []byte) int {
	size := m.EncodedSize()
	_ = dst[size-1]
	sys := m.SysFlag &^ (FlagBornHostV6 | FlagStoreHostV6)
	if hostLen(m.BornHost) == 20 {
		sys |= FlagBornHostV6
	}
	if hostLen(m.StoreHost) == 20 {
		sys |= FlagStoreHostV6
	}
	m.SysFlag = sys
	if m.BodyCRC == 0 {
		m.BodyCRC = BodyChecksum(m.Body)
	}
	be := binary.BigEndian
	be.PutUint32(dst[8:], m.BodyCRC)
	be.PutUint32(dst[12:], uint32(m.QueueID))
	be.PutUint32(dst[16:], uint32(m.Flag))
	be.PutUint64(dst[20:], uint64(m.QueueOffset))
	be.PutUint64(dst[28:], uint64(m.PhysicalOffset))
	be.PutUint32(dst[36:], uint32(sys))
	be.PutUint64(dst[40:], uint64(m.BornTimestamp))
	p := 48 + putHost(dst[48:], m.BornHost)
	be.PutUint64(dst[p:], uint64(m.StoreTimestamp))
	p += 8
	p += putHost(dst[p:], m.StoreHost)
	be.PutUint32(dst[p:], uint32(m.ReconsumeTimes))
	be.PutUint64(dst[p+4:], uint64(m.PreparedTransactionOffset))
	be.PutUint32(dst[p+12:], uint32(len(m.Body)))
	p += 16
	p += copy(dst[p:], m.Body)
	dst[p] = byte(len(m.Topic))
	p++
	p += copy(dst[p:], m.Topic)
	be.PutUint16(dst[p:], uint16(len(m.Properties)))
	p += 2
	copy(dst[p:], m.Properties)
	// TOTALSIZE and the magic go last: a store writing into a mapping that
	// is killed half way leaves them zero, so recovery sees unwritten
	// space instead of a record whose properties (not covered by the body
	// CRC) are half there. The copies above are calls, which the compiler
	// does not move these stores before.
	be.PutUint32(dst[0:], uint32(size))
	be.PutUint32(dst[4:], MessageMagic)
	return size
}

// AppendEncode appends m's record to dst.
func (m *Message) AppendEncode(dst []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, m.EncodedSize())...)
	m.Encode(dst[n:])
	return dst
}

func putHost(dst []byte, a netip.AddrPort) int {
	ip := a.Addr().Unmap()
	var n int
	switch {
	case ip.Is4():
		b := ip.As4()
		n = copy(dst, b[:])
	case ip.Is6():
		b := ip.As16()
		n = copy(dst, b[:])
	default:
		n = copy(dst, []byte{0, 0, 0, 0})
	}
	binary.BigEndian.PutUint32(dst[n:], uint32(a.Port()))
	return n + 4
}

// getHost reads a host field: the address, then the port as an int32. A
// port above 65535 cannot come from a socket address, so it is corruption;
// ok is false and the caller reports it.
func getHost(b []byte, v6 bool) (a netip.AddrPort, size int, ok bool) {
	n := 4
	if v6 {
		n = 16
	}
	addr, _ := netip.AddrFromSlice(b[:n])
	port := binary.BigEndian.Uint32(b[n:])
	return netip.AddrPortFrom(addr, uint16(port)), n + 4, port <= 0xFFFF
}

// RecordSize reads the TOTALSIZE and magic code at the start of b without
// decoding the rest. It is what a scan uses to step over records.
func RecordSize(b []byte) (size int32, magic uint32, err error) {
	if len(b) < 8 {
		return 0, 0, ErrTruncated
	}
	return int32(binary.BigEndian.Uint32(b)), binary.BigEndian.Uint32(b[4:]), nil
}

// DecodeMessage decodes the record at the start of b. The returned message's
// Body aliases b. Every length field is checked against TOTALSIZE, so a
// decoded record is exactly TOTALSIZE bytes; verifyCRC also checks BODYCRC.
func DecodeMessage(b []byte, verifyCRC bool) (*Message, error) {
	m := new(Message)
	if err := m.decode(b, verifyCRC); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeInto decodes the record at the start of b into m, as DecodeMessage
// does, for a caller that walks many records with one Message: m's Topic
// string is kept when the record's topic is the same, so a scan of one
// topic's records does not allocate a topic per record.
func (m *Message) DecodeInto(b []byte, verifyCRC bool) error {
	return m.decode(b, verifyCRC)
}

func (m *Message) decode(b []byte, verifyCRC bool) error {
	size, magic, err := RecordSize(b)
	if err != nil {
		return err
	}
	if magic != MessageMagic {
		return fmt.Errorf("%w: %#08x", ErrBadMagic, magic)
	}
	if size < minRecordSize {
		return fmt.Errorf("%w: total size %d below minimum", ErrBadLength, size)
	}
	if int(size) > len(b) {
		return fmt.Errorf("%w: total size %d, have %d bytes", ErrTruncated, size, len(b))
	}
	b = b[:size]
	be := binary.BigEndian
	m.BodyCRC = be.Uint32(b[8:])
	m.QueueID = int32(be.Uint32(b[12:]))
	m.Flag = int32(be.Uint32(b[16:]))
	m.QueueOffset = int64(be.Uint64(b[20:]))
	m.PhysicalOffset = int64(be.Uint64(b[28:]))
	m.SysFlag = int32(be.Uint32(b[36:]))
	m.BornTimestamp = int64(be.Uint64(b[40:]))
	fixed := minRecordSize
	if m.SysFlag&FlagBornHostV6 != 0 {
		fixed += 12
	}
	if m.SysFlag&FlagStoreHostV6 != 0 {
		fixed += 12
	}
	if int(size) < fixed {
		return fmt.Errorf("%w: total size %d below minimum %d", ErrBadLength, size, fixed)
	}
	var n int
	var ok bool
	if m.BornHost, n, ok = getHost(b[48:], m.SysFlag&FlagBornHostV6 != 0); !ok {
		return fmt.Errorf("%w: born host port %d", ErrBadHost, be.Uint32(b[48+n-4:]))
	}
	p := 48 + n
	m.StoreTimestamp = int64(be.Uint64(b[p:]))
	if m.StoreHost, n, ok = getHost(b[p+8:], m.SysFlag&FlagStoreHostV6 != 0); !ok {
		return fmt.Errorf("%w: store host port %d", ErrBadHost, be.Uint32(b[p+8+n-4:]))
	}
	p += 8 + n
	m.ReconsumeTimes = int32(be.Uint32(b[p:]))
	m.PreparedTransactionOffset = int64(be.Uint64(b[p+4:]))
	bodyLen := int(be.Uint32(b[p+12:]))
	p += 16
	// What is left must hold the body, 1 topic-length byte and 2
	// properties-length bytes.
	if bodyLen < 0 || bodyLen > len(b)-p-3 {
		return fmt.Errorf("%w: body length %d in a %d-byte record", ErrBadLength, bodyLen, size)
	}
	m.Body = b[p : p+bodyLen : p+bodyLen]
	p += bodyLen
	topicLen := int(b[p])
	p++
	if topicLen > len(b)-p-2 {
		return fmt.Errorf("%w: topic length %d", ErrBadLength, topicLen)
	}
	if topic := b[p : p+topicLen]; string(topic) != m.Topic {
		m.Topic = string(topic)
	}
	p += topicLen
	propLen := int(be.Uint16(b[p:]))
	p += 2
	if propLen != len(b)-p {
		return fmt.Errorf("%w: properties length %d, %d bytes left", ErrBadLength, propLen, len(b)-p)
	}
	m.Properties = string(b[p:])
	if verifyCRC && BodyChecksum(m.Body) != m.BodyCRC {
		return ErrBadCRC
	}
	return nil
}

// DecodeMessages decodes records laid back to back, as in a pull response
// body.
func DecodeMessages(b []byte) ([]*Message, error) {
	var out []*Message
	for len(b) > 0 {
		m, err := DecodeMessage(b, false)
		if err != nil {
			return out, fmt.Errorf("record %d: %w", len(out), err)
		}
		out = append(out, m)
		// Step by TOTALSIZE, which decode checked against the bytes: a record
		// whose IPv6 host field holds an IPv4-mapped address would re-encode
		// 12 bytes shorter, so EncodedSize is not its length on the wire.
		size, _, _ := RecordSize(b)
		b = b[size:]
	}
	return out, nil
}

// Property returns the value of one property of m.
func (m *Message) Property(name string) string {
	return PropertyValue(m.Properties, name)
}
