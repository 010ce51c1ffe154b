package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The ROCKETMQ binary header (rocketmq-wire-protocol.md, section 1.4):
//
//	2  code
//	1  language code
//	2  version
//	4  opaque
//	4  flag
//	4  remark length R, then R bytes
//	4  ext length E, then E bytes of entries:
//	     2 key length K, K bytes; 4 value length V, V bytes
//
// Lengths are signed in Java, so a key is at most 32767 bytes.

// binaryFixedLen is the size of the header with no remark and no ext.
const binaryFixedLen = 2 + 1 + 2 + 4 + 4 + 4 + 4

// languageNames maps the language byte to Java's LanguageCode names.
var languageNames = [...]string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST"}

const languageOther = 7

func languageCode(name string) byte {
	switch name {
	case "GO":
		return 9
	case "JAVA":
		return 0
	}
	for i, n := range languageNames {
		if n == name {
			return byte(i)
		}
	}
	return languageOther
}

// languageName returns the name of a language byte; an unknown byte is
// "OTHER".
func languageName(b byte) string {
	if int(b) < len(languageNames) {
		return languageNames[b]
	}
	return languageNames[languageOther]
}

func appendBinaryHeader(dst []byte, c *Command) ([]byte, error) {
	if len(c.Remark) > math.MaxInt32 {
		return dst, fmt.Errorf("%w: remark of %d bytes", ErrFrameTooLarge, len(c.Remark))
	}
	extLen := 0
	for k, v := range c.ExtFields {
		if len(k) > math.MaxInt16 {
			return dst, fmt.Errorf("%w: ext key of %d bytes does not fit the binary header", ErrBadFrame, len(k))
		}
		extLen += 2 + len(k) + 4 + len(v)
	}
	if extLen > math.MaxInt32 {
		return dst, fmt.Errorf("%w: ext fields of %d bytes", ErrFrameTooLarge, extLen)
	}
	be := binary.BigEndian
	dst = be.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, languageCode(c.Language))
	dst = be.AppendUint16(dst, uint16(c.Version))
	dst = be.AppendUint32(dst, uint32(c.Opaque))
	dst = be.AppendUint32(dst, uint32(c.Flag))
	dst = be.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	dst = be.AppendUint32(dst, uint32(extLen))
	for k, v := range c.ExtFields {
		dst = be.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = be.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

func decodeBinaryHeader(b []byte) (*Command, error) {
	bad := func(format string, args ...any) (*Command, error) {
		return nil, fmt.Errorf("%w: binary header: "+format, append([]any{ErrBadFrame}, args...)...)
	}
	if len(b) < binaryFixedLen {
		return bad("%d bytes, shorter than its fixed fields", len(b))
	}
	be := binary.BigEndian
	c := &Command{
		Code:     int16(be.Uint16(b)),
		Language: languageName(b[2]),
		Version:  int16(be.Uint16(b[3:])),
		Opaque:   int32(be.Uint32(b[5:])),
		Flag:     int32(be.Uint32(b[9:])),
	}
	p := 13
	rl := int(int32(be.Uint32(b[p:])))
	p += 4
	if rl < 0 || rl > len(b)-p-4 {
		return bad("remark length %d out of range", rl)
	}
	c.Remark = string(b[p : p+rl])
	p += rl
	el := int(int32(be.Uint32(b[p:])))
	p += 4
	if el != len(b)-p {
		return bad("ext length %d, %d bytes left", el, len(b)-p)
	}
	ext := b[p:]
	if len(ext) == 0 {
		return c, nil
	}
	// A single string holds every key and value: one allocation.
	s := string(ext)
	c.ExtFields = make(map[string]string, min(len(ext)/16+1, 64))
	for q := 0; q < len(s); {
		if len(s)-q < 2 {
			return bad("truncated ext key length")
		}
		kl := int(int16(be.Uint16(ext[q:])))
		q += 2
		if kl < 0 || kl > len(s)-q-4 {
			return bad("ext key length %d out of range", kl)
		}
		k := s[q : q+kl]
		q += kl
		vl := int(int32(be.Uint32(ext[q:])))
		q += 4
		if vl < 0 || vl > len(s)-q {
			return bad("ext value length %d out of range", vl)
		}
		c.ExtFields[k] = s[q : q+vl]
		q += vl
	}
	return c, nil
}
