package remoting

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSONHeader decodes a JSON header.
//
// It is a hand-written parser for the one shape headers have: an object of
// numbers and strings whose extFields member is an object of strings. It
// accepts any key order, whitespace, unknown keys with any value (Java adds
// serializeTypeCurrentRPC), null or missing remark and extFields, and every
// JSON escape. It rejects what is not JSON, integers that overflow their
// field (as the Go client does) and objects or arrays as ext values. A
// number, true or false as an ext value is kept as its text (Java and Go
// never send one; a tolerant reader costs nothing here), and a null ext
// value is left out.
//
// Invalid UTF-8 and unpaired surrogates become U+FFFD, as in encoding/json,
// so that what decodes also encodes and decodes to the same command.
//
// To allocate little, the header is copied into one string, and strings
// without escapes are substrings of it; a string kept from the Command
// keeps that copy alive, which costs a few hundred bytes at most.
func decodeJSONHeader(b []byte) (*Command, error) {
	d := jsonDecoder{b: b}
	c := &Command{}
	if err := d.header(c); err != nil {
		return nil, fmt.Errorf("%w: JSON header: %s at byte %d", ErrBadFrame, err, d.i)
	}
	return c, nil
}

type jsonDecoder struct {
	b []byte
	i int    // next byte to read
	s string // string(b) once a string was needed, else ""
}

// jsonError is a parse error. Its values are constants, so returning one
// does not allocate.
type jsonError string

func (e jsonError) Error() string { return string(e) }

const (
	errWantObject   jsonError = "want an object"
	errWantColon    jsonError = "want ':'"
	errWantComma    jsonError = "want ',' or the end of the object"
	errWantString   jsonError = "want a string"
	errWantInteger  jsonError = "want an integer"
	errOverflow     jsonError = "integer out of range"
	errWantValue    jsonError = "want a value"
	errBadNumber    jsonError = "malformed number"
	errBadEscape    jsonError = "malformed escape"
	errControlChar  jsonError = "control character in a string"
	errUnterminated jsonError = "unterminated string"
	errTrailingData jsonError = "data after the header object"
	errExtValue     jsonError = "ext value is an object or an array"
	errTooDeep      jsonError = "value nested too deeply"
	errUnexpected   jsonError = "unexpected character"
)

// maxExtHint caps the size hint of the ext map.
const maxExtHint = 32

// maxSkipDepth bounds the nesting of a skipped value (recursion depth).
const maxSkipDepth = 64

func (d *jsonDecoder) header(c *Command) error {
	d.ws()
	if !d.eat('{') {
		return errWantObject
	}
	d.ws()
	if !d.eat('}') {
		for {
			d.ws()
			key, err := d.key()
			if err != nil {
				return err
			}
			d.ws()
			if !d.eat(':') {
				return errWantColon
			}
			d.ws()
			if err := d.field(c, key); err != nil {
				return err
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat('}') {
				break
			}
			return errWantComma
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return errTrailingData
	}
	return nil
}

// field decodes the value of one header key into c.
func (d *jsonDecoder) field(c *Command, key []byte) error {
	var err error
	var n int64
	switch string(key) {
	case "code":
		n, err = d.integer(math.MinInt16, math.MaxInt16)
		c.Code = int16(n)
	case "language":
		c.Language, err = d.stringOrNull()
	case "version":
		n, err = d.integer(math.MinInt16, math.MaxInt16)
		c.Version = int16(n)
	case "opaque":
		n, err = d.integer(math.MinInt32, math.MaxInt32)
		c.Opaque = int32(n)
	case "flag":
		n, err = d.integer(math.MinInt32, math.MaxInt32)
		c.Flag = int32(n)
	case "remark":
		c.Remark, err = d.stringOrNull()
	case "extFields":
		c.ExtFields, err = d.ext()
	default:
		err = d.skip(0)
	}
	return err
}

func (d *jsonDecoder) ext() (map[string]string, error) {
	if d.literal("null") {
		return nil, nil
	}
	if !d.eat('{') {
		return nil, errWantObject
	}
	// Every member has a colon; a colon inside a value or after the ext
	// object only makes the map a little roomier. The cap keeps a header
	// of colons from reserving a huge map.
	m := make(map[string]string, min(bytes.Count(d.b[d.i:], []byte{':'}), maxExtHint))
	d.ws()
	if d.eat('}') {
		return m, nil
	}
	for {
		d.ws()
		k, err := d.string()
		if err != nil {
			return nil, err
		}
		d.ws()
		if !d.eat(':') {
			return nil, errWantColon
		}
		d.ws()
		if d.i >= len(d.b) {
			return nil, errWantValue
		}
		switch ch := d.b[d.i]; {
		case ch == '"':
			v, err := d.string()
			if err != nil {
				return nil, err
			}
			m[k] = v
		case ch == '-' || ch >= '0' && ch <= '9':
			start := d.i
			if err := d.number(); err != nil {
				return nil, err
			}
			m[k] = d.sub(start, d.i)
		case d.literal("true"):
			m[k] = "true"
		case d.literal("false"):
			m[k] = "false"
		case d.literal("null"):
		case ch == '{' || ch == '[':
			return nil, errExtValue
		default:
			return nil, errWantValue
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return m, nil
		}
		return nil, errWantComma
	}
}

func (d *jsonDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// eat consumes ch if it is the next byte.
func (d *jsonDecoder) eat(ch byte) bool {
	if d.i < len(d.b) && d.b[d.i] == ch {
		d.i++
		return true
	}
	return false
}

// literal consumes lit if it comes next.
func (d *jsonDecoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// sub returns the text of b[start:end] as a substring of the header copy.
func (d *jsonDecoder) sub(start, end int) string {
	if d.s == "" {
		d.s = string(d.b)
	}
	return d.s[start:end]
}

// integer decodes an integer in [lo, hi]; null is 0.
func (d *jsonDecoder) integer(lo, hi int64) (int64, error) {
	if d.literal("null") {
		return 0, nil
	}
	neg := d.eat('-')
	start := d.i
	var n int64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		if d.i-start >= 18 {
			return 0, errOverflow
		}
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
	}
	if d.i == start {
		return 0, errWantInteger
	}
	if d.i < len(d.b) {
		if ch := d.b[d.i]; ch == '.' || ch == 'e' || ch == 'E' {
			return 0, errWantInteger
		}
	}
	if neg {
		n = -n
	}
	if n < lo || n > hi {
		return 0, errOverflow
	}
	return n, nil
}

// number consumes a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonDecoder) number() error {
	d.eat('-')
	switch {
	case d.eat('0'):
	case d.digits() == 0:
		return errBadNumber
	}
	if d.eat('.') && d.digits() == 0 {
		return errBadNumber
	}
	if d.eat('e') || d.eat('E') {
		if !d.eat('+') {
			d.eat('-')
		}
		if d.digits() == 0 {
			return errBadNumber
		}
	}
	return nil
}

func (d *jsonDecoder) digits() int {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

func (d *jsonDecoder) stringOrNull() (string, error) {
	if d.literal("null") {
		return "", nil
	}
	// The language names are short and few: skip the header copy.
	if d.literal(`"GO"`) {
		return "GO", nil
	}
	if d.literal(`"JAVA"`) {
		return "JAVA", nil
	}
	return d.string()
}

// jsonStop[b] is true for the bytes that end the fast scan of a string: the
// quote, the backslash, control characters and non-ASCII bytes.
var jsonStop = func() (t [256]bool) {
	for b := range 256 {
		t[b] = b < 0x20 || b == '"' || b == '\\' || b >= utf8.RuneSelf
	}
	return t
}()

// scan finds the end of a string's plain prefix starting at d.i. It returns
// the index of the closing quote and true if the whole string is plain
// valid UTF-8, else the index where a slow decode must take over.
func (d *jsonDecoder) scan() (int, bool) {
	j := d.i
	for {
		for j < len(d.b) && !jsonStop[d.b[j]] {
			j++
		}
		if j >= len(d.b) {
			return j, false
		}
		switch ch := d.b[j]; {
		case ch == '"':
			return j, true
		case ch >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[j:])
			if r == utf8.RuneError && size == 1 {
				return j, false
			}
			j += size
		default: // backslash or control character
			return j, false
		}
	}
}

// string decodes a string.
func (d *jsonDecoder) string() (string, error) {
	if !d.eat('"') {
		return "", errWantString
	}
	start := d.i
	end, plain := d.scan()
	if plain {
		d.i = end + 1
		return d.sub(start, end), nil
	}
	return d.unescape(start, end)
}

// key decodes an object key; a key without escapes aliases the header.
func (d *jsonDecoder) key() ([]byte, error) {
	if !d.eat('"') {
		return nil, errWantString
	}
	start := d.i
	end, plain := d.scan()
	if plain {
		d.i = end + 1
		return d.b[start:end], nil
	}
	k, err := d.unescape(start, end)
	return []byte(k), err
}

// closingQuote returns the index of the quote that ends the string whose
// text starts at start, scanning from the index from, or -1.
func (d *jsonDecoder) closingQuote(start, from int) int {
	for j := from; j < len(d.b); {
		k := bytes.IndexByte(d.b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		backslashes := 0
		for p := q - 1; p >= start && d.b[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		j = q + 1
	}
	return -1
}

// unescape decodes the string whose text starts at start and whose bytes
// before plainEnd need no decoding, and consumes its closing quote.
func (d *jsonDecoder) unescape(start, plainEnd int) (string, error) {
	var sb strings.Builder
	// The escaped length bounds the decoded one, unless invalid bytes
	// become U+FFFD: one allocation, usually.
	if q := d.closingQuote(start, plainEnd); q >= 0 {
		sb.Grow(q - start)
	}
	sb.Write(d.b[start:plainEnd])
	d.i = plainEnd
	for d.i < len(d.b) {
		ch := d.b[d.i]
		switch {
		case ch == '"':
			d.i++
			return sb.String(), nil
		case ch < 0x20:
			return "", errControlChar
		case ch >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.b[d.i:])
			sb.WriteRune(r) // RuneError for an invalid byte
			d.i += size
			continue
		case ch != '\\':
			sb.WriteByte(ch)
			d.i++
			continue
		}
		if d.i+1 >= len(d.b) {
			return "", errUnterminated
		}
		esc := d.b[d.i+1]
		d.i += 2
		switch esc {
		case '"', '\\', '/':
			sb.WriteByte(esc)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", errBadEscape
			}
			if utf16.IsSurrogate(r) {
				r = d.lowSurrogate(r)
			}
			sb.WriteRune(r)
		default:
			return "", errBadEscape
		}
	}
	return "", errUnterminated
}

// lowSurrogate completes the high surrogate hi with a following \uXXXX low
// surrogate if there is one; an unpaired surrogate is U+FFFD.
func (d *jsonDecoder) lowSurrogate(hi rune) rune {
	if hi >= 0xDC00 || len(d.b)-d.i < 6 || d.b[d.i] != '\\' || d.b[d.i+1] != 'u' {
		return utf8.RuneError
	}
	save := d.i
	d.i += 2
	lo, ok := d.hex4()
	if r := utf16.DecodeRune(hi, lo); ok && r != utf8.RuneError {
		return r
	}
	d.i = save // not a low surrogate: decode it on its own
	return utf8.RuneError
}

func (d *jsonDecoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, ch := range d.b[d.i : d.i+4] {
		switch {
		case ch >= '0' && ch <= '9':
			r = r<<4 | rune(ch-'0')
		case ch >= 'a' && ch <= 'f':
			r = r<<4 | rune(ch-'a'+10)
		case ch >= 'A' && ch <= 'F':
			r = r<<4 | rune(ch-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// skip consumes any JSON value: the value of a key the header does not use.
func (d *jsonDecoder) skip(depth int) error {
	if depth > maxSkipDepth {
		return errTooDeep
	}
	if d.i >= len(d.b) {
		return errWantValue
	}
	switch ch := d.b[d.i]; {
	case ch == '"':
		_, err := d.key() // validates; allocates only for escapes
		return err
	case ch == '-' || ch >= '0' && ch <= '9':
		return d.number()
	case ch == '{':
		return d.skipContainer(depth, '}', true)
	case ch == '[':
		return d.skipContainer(depth, ']', false)
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return errUnexpected
}

// skipContainer consumes an object (keyed) or an array.
func (d *jsonDecoder) skipContainer(depth int, end byte, keyed bool) error {
	d.i++
	d.ws()
	if d.eat(end) {
		return nil
	}
	for {
		d.ws()
		if keyed {
			if _, err := d.key(); err != nil {
				return err
			}
			d.ws()
			if !d.eat(':') {
				return errWantColon
			}
			d.ws()
		}
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat(end) {
			return nil
		}
		return errWantComma
	}
}
