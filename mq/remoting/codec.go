package remoting

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// AppendFrame appends c's whole frame (length field included) to dst.
func AppendFrame(dst []byte, c *Command) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	switch c.Serialize {
	case JSON:
		dst = appendJSONHeader(dst, c)
	case RocketMQ:
		if dst, err = appendBinaryHeader(dst, c); err != nil {
			return dst[:start], err
		}
	default:
		return dst[:start], fmt.Errorf("%w: serialize type %d", ErrBadFrame, c.Serialize)
	}
	headerLen := len(dst) - start - 8
	if headerLen > 0xFFFFFF {
		return dst[:start], fmt.Errorf("%w: header of %d bytes", ErrFrameTooLarge, headerLen)
	}
	dst = append(dst, c.Body...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.Serialize)<<24|uint32(headerLen))
	return dst, nil
}

// DecodeFrame decodes the bytes of a frame after its length field. The
// returned Body aliases frame.
func DecodeFrame(frame []byte) (*Command, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, no header length", ErrBadFrame, len(frame))
	}
	h := binary.BigEndian.Uint32(frame)
	st, hl := SerializeType(h>>24), int(h&0xFFFFFF)
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

// readFrame reads one frame and returns the bytes after its length field.
func readFrame(r *bufio.Reader, maxSize int) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(lenBuf[:]))
	if n > maxSize || n < 0 {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, maxSize)
	}
	if n < 4 {
		return nil, fmt.Errorf("%w: frame length %d", ErrBadFrame, n)
	}
	frame := make([]byte, n)
	if _, err := io.ReadFull(r, frame); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: truncated frame: %w", ErrBadFrame, err)
	}
	return frame, nil
}

// JSON header

func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"language":`...)
	dst = appendJSONString(dst, c.Language)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	if len(c.ExtFields) > 0 {
		dst = append(dst, `,"extFields":{`...)
		first := true
		for k, v := range c.ExtFields {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, v)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ROCKETMQ binary header

var languageCodes = map[string]byte{"JAVA": 0, "CPP": 1, "DOTNET": 2, "PYTHON": 3, "DELPHI": 4, "ERLANG": 5, "RUBY": 6, "OTHER": 7, "HTTP": 8, "GO": 9, "PHP": 10, "OMS": 11, "RUST": 12}

var languageNames = func() map[byte]string {
	m := map[byte]string{}
	for k, v := range languageCodes {
		m[v] = k
	}
	return m
}()

func appendBinaryHeader(dst []byte, c *Command) ([]byte, error) {
	lang, ok := languageCodes[c.Language]
	if !ok {
		lang = languageCodes["OTHER"]
	}
	be := binary.BigEndian
	dst = be.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, lang)
	dst = be.AppendUint16(dst, uint16(c.Version))
	dst = be.AppendUint32(dst, uint32(c.Opaque))
	dst = be.AppendUint32(dst, uint32(c.Flag))
	dst = be.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	n := 0
	for k, v := range c.ExtFields {
		if len(k) > 0x7FFF {
			return dst, fmt.Errorf("%w: ext key of %d bytes", ErrBadFrame, len(k))
		}
		n += 2 + len(k) + 4 + len(v)
	}
	dst = be.AppendUint32(dst, uint32(n))
	for k, v := range c.ExtFields {
		dst = be.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = be.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

func decodeBinaryHeader(b []byte) (*Command, error) {
	bad := func(what string) (*Command, error) {
		return nil, fmt.Errorf("%w: binary header: %s", ErrBadFrame, what)
	}
	if len(b) < 17 {
		return bad("shorter than its fixed fields")
	}
	be := binary.BigEndian
	c := &Command{
		Code:    int16(be.Uint16(b)),
		Version: int16(be.Uint16(b[3:])),
		Opaque:  int32(be.Uint32(b[5:])),
		Flag:    int32(be.Uint32(b[9:])),
	}
	c.Language = languageNames[b[2]]
	if c.Language == "" {
		c.Language = "OTHER"
	}
	rl := int(be.Uint32(b[13:]))
	p := 17
	if rl < 0 || rl > len(b)-p-4 {
		return bad("remark length out of range")
	}
	c.Remark = string(b[p : p+rl])
	p += rl
	el := int(be.Uint32(b[p:]))
	p += 4
	if el < 0 || el != len(b)-p {
		return bad("ext length does not match the header")
	}
	ext := b[p:]
	for len(ext) > 0 {
		if len(ext) < 2 {
			return bad("truncated ext key length")
		}
		kl := int(be.Uint16(ext))
		if kl > len(ext)-6 {
			return bad("ext key length out of range")
		}
		k := string(ext[2 : 2+kl])
		ext = ext[2+kl:]
		vl := int(be.Uint32(ext))
		if vl < 0 || vl > len(ext)-4 {
			return bad("ext value length out of range")
		}
		if c.ExtFields == nil {
			c.ExtFields = map[string]string{}
		}
		c.ExtFields[k] = string(ext[4 : 4+vl])
		ext = ext[4+vl:]
	}
	return c, nil
}
