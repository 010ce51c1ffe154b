package remoting

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSONHeader parses a JSON header. It is a small hand-written parser
// for the one shape headers have (a flat object whose extFields is an
// object of strings), several times faster than encoding/json on the hot
// path. Unknown keys are skipped whatever their value; an ext value that is
// a number or a boolean is kept as its text (Java servers never send one,
// but a tolerant reader costs nothing).
func decodeJSONHeader(b []byte) (*Command, error) {
	p := jsonParser{b: b}
	c, err := p.header()
	if err != nil {
		return nil, fmt.Errorf("%w: JSON header: %s at byte %d", ErrBadFrame, err, p.i)
	}
	return c, nil
}

type jsonParser struct {
	b []byte
	i int
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) expect(ch byte) error {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != ch {
		return jsonError("want " + strconv.QuoteRune(rune(ch)))
	}
	p.i++
	return nil
}

// object calls field for each key of an object; field must consume the
// value.
func (p *jsonParser) object(field func(key string) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		p.ws()
		if err := field(key); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return jsonError("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return jsonError("want , or }")
		}
	}
}

func (p *jsonParser) header() (*Command, error) {
	c := &Command{}
	err := p.object(func(key string) error {
		var err error
		switch key {
		case "code":
			c.Code, err = intField[int16](p, 16)
		case "version":
			c.Version, err = intField[int16](p, 16)
		case "opaque":
			c.Opaque, err = intField[int32](p, 32)
		case "flag":
			c.Flag, err = intField[int32](p, 32)
		case "language":
			c.Language, err = p.strOrNull()
		case "remark":
			c.Remark, err = p.strOrNull()
		case "extFields":
			c.ExtFields, err = p.ext()
		default:
			err = p.skip(0)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, jsonError("data after the header object")
	}
	return c, nil
}

func intField[T int16 | int32](p *jsonParser, bits int) (T, error) {
	tok := p.number()
	n, err := strconv.ParseInt(tok, 10, bits)
	if err != nil {
		return 0, jsonError("want an integer of " + strconv.Itoa(bits) + " bits, got " + strconv.Quote(tok))
	}
	return T(n), nil
}

func (p *jsonParser) ext() (map[string]string, error) {
	if p.literal("null") {
		return nil, nil
	}
	m := map[string]string{}
	err := p.object(func(key string) error {
		if p.i >= len(p.b) {
			return jsonError("missing value")
		}
		switch ch := p.b[p.i]; {
		case ch == '"':
			v, err := p.str()
			m[key] = v
			return err
		case ch == '-' || ch >= '0' && ch <= '9':
			m[key] = p.number()
		case p.literal("true"):
			m[key] = "true"
		case p.literal("false"):
			m[key] = "false"
		case p.literal("null"):
		default:
			return jsonError("ext value of " + strconv.Quote(key) + " is not a string")
		}
		return nil
	})
	return m, err
}

func (p *jsonParser) literal(lit string) bool {
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// number returns the text of a JSON number (validated loosely: callers
// parse it).
func (p *jsonParser) number() string {
	start := p.i
	for p.i < len(p.b) {
		ch := p.b[p.i]
		if ch == '-' || ch == '+' || ch == '.' || ch == 'e' || ch == 'E' || ch >= '0' && ch <= '9' {
			p.i++
			continue
		}
		break
	}
	return string(p.b[start:p.i])
}

func (p *jsonParser) strOrNull() (string, error) {
	if p.literal("null") {
		return "", nil
	}
	return p.str()
}

// str parses a JSON string.
func (p *jsonParser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", jsonError("want a string")
	}
	p.i++
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		ch := p.b[p.i]
		if ch == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if ch == '\\' || ch < 0x20 {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		ch := p.b[p.i]
		switch {
		case ch == '"':
			p.i++
			return string(buf), nil
		case ch < 0x20:
			return "", jsonError("control character in string")
		case ch != '\\':
			buf = append(buf, ch)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", jsonError("unterminated escape")
		}
		esc := p.b[p.i+1]
		p.i += 2
		switch esc {
		case '"', '\\', '/':
			buf = append(buf, esc)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", jsonError("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					lo, ok := p.hex4()
					if !ok {
						return "", jsonError("bad \\u escape")
					}
					r2 = lo
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", jsonError("bad escape")
		}
	}
	return "", jsonError("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// skip consumes any JSON value (of a key we do not use).
func (p *jsonParser) skip(depth int) error {
	if depth > 32 {
		return jsonError("nested too deep")
	}
	p.ws()
	if p.i >= len(p.b) {
		return jsonError("missing value")
	}
	switch ch := p.b[p.i]; {
	case ch == '"':
		_, err := p.str()
		return err
	case ch == '{':
		return p.object(func(string) error { return p.skip(depth + 1) })
	case ch == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return jsonError("unterminated array")
			}
			if p.b[p.i] == ']' {
				p.i++
				return nil
			}
			if p.b[p.i] != ',' {
				return jsonError("want , or ]")
			}
			p.i++
		}
	case ch == '-' || ch >= '0' && ch <= '9':
		if p.number() == "" {
			return jsonError("bad number")
		}
		return nil
	case p.literal("true"), p.literal("false"), p.literal("null"):
		return nil
	}
	return jsonError("unexpected character")
}
