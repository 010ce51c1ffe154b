package remoting

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxHeaderLen is the largest header the 24-bit length field can describe.
const maxHeaderLen = 1<<24 - 1

// AppendFrame appends c's whole frame, length field included, to dst and
// returns the extended slice. The header takes the form c.Serialize says.
// On error dst is returned unchanged.
func AppendFrame(dst []byte, c *Command) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst, err := appendHeader(dst, c)
	if err != nil {
		return dst[:start], err
	}
	prefix, err := framePrefix(len(dst)-start-8, len(c.Body), c.Serialize)
	if err != nil {
		return dst[:start], err
	}
	copy(dst[start:], prefix[:])
	return append(dst, c.Body...), nil
}

// appendHeader appends c's header in the form c.Serialize says.
func appendHeader(dst []byte, c *Command) ([]byte, error) {
	switch c.Serialize {
	case JSON:
		return appendJSONHeader(dst, c), nil
	case RocketMQ:
		return appendBinaryHeader(dst, c)
	}
	return dst, fmt.Errorf("%w: cannot encode serialize type %d", ErrBadFrame, c.Serialize)
}

// framePrefix returns the 8 bytes before a header: the total length and the
// serialize type with the header length.
func framePrefix(headerLen, bodyLen int, st SerializeType) ([8]byte, error) {
	var p [8]byte
	if headerLen > maxHeaderLen {
		return p, fmt.Errorf("%w: header of %d bytes, the length field holds at most %d", ErrFrameTooLarge, headerLen, maxHeaderLen)
	}
	total := 4 + headerLen + bodyLen
	if total > math.MaxInt32 {
		return p, fmt.Errorf("%w: frame of %d bytes", ErrFrameTooLarge, total)
	}
	binary.BigEndian.PutUint32(p[:], uint32(total))
	binary.BigEndian.PutUint32(p[4:], uint32(st)<<24|uint32(headerLen))
	return p, nil
}

// DecodeFrame decodes a frame: the bytes after its 4-byte length field.
// The returned Body aliases frame (nil when the frame has no body); strings
// do not. Errors wrap ErrBadFrame.
func DecodeFrame(frame []byte) (*Command, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: %d-byte frame has no header length", ErrBadFrame, len(frame))
	}
	h := binary.BigEndian.Uint32(frame)
	st, hl := SerializeType(h>>24), int(h&maxHeaderLen)
	if hl > len(frame)-4 {
		return nil, fmt.Errorf("%w: header length %d in a %d-byte frame", ErrBadFrame, hl, len(frame))
	}
	header, body := frame[4:4+hl], frame[4+hl:]
	var c *Command
	var err error
	switch st {
	case JSON:
		c, err = decodeJSONHeader(header)
	case RocketMQ:
		c, err = decodeBinaryHeader(header)
	default:
		return nil, fmt.Errorf("%w: unknown serialize type %d", ErrBadFrame, st)
	}
	if err != nil {
		return nil, err
	}
	c.Serialize = st
	if len(body) > 0 {
		c.Body = body
	}
	return c, nil
}

// errTruncated says the stream ended inside a frame.
var errTruncated = fmt.Errorf("%w: truncated frame", ErrBadFrame)

// readFrame reads one frame from r and returns the bytes after its length
// field, in a buffer of their own. It returns io.EOF, unwrapped, if the
// stream ended cleanly before the frame; an error wrapping ErrFrameTooLarge
// if the length exceeds maxSize; one wrapping ErrBadFrame if the length is
// below 4 or the stream ended inside the frame; else the read error.
func readFrame(r *bufio.Reader, maxSize int) ([]byte, error) {
	// Peek avoids the allocation a length buffer passed to io.ReadFull
	// would cost (it escapes through the io.Reader interface).
	lb, err := r.Peek(4)
	if err != nil {
		if len(lb) > 0 && errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %d bytes of a length field, then EOF", errTruncated, len(lb))
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(lb))
	r.Discard(4)
	if n > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, maxSize)
	}
	if n < 4 {
		return nil, fmt.Errorf("%w: frame length %d, less than its header length field", ErrBadFrame, n)
	}
	frame := make([]byte, n)
	if got, err := io.ReadFull(r, frame); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %d of %d bytes, then EOF", errTruncated, got, n)
		}
		return nil, err
	}
	return frame, nil
}
