package protocol

import (
	"encoding/json"
	"fmt"
)

// Java brokers and NameServers serialize bodies with fastjson, which writes
// two things encoding/json cannot read:
//
//   - map keys that are numbers, unquoted: {"brokerAddrs":{0:"10.0.0.1:10911"}}
//     (routes for clients announcing a version below 4.9.4, cluster info);
//   - map keys that are objects: {"offsetTable":{{"brokerName":"b",
//     "queueId":0,"topic":"T"}:100}} (ResetOffsetBody, ConsumeStats,
//     TopicStatsTable, consumer running info).
//
// The helpers here read both and write the second, compactly and with the
// object keys' fields sorted as fastjson sorts them. The Go client splits
// such bodies as text, so no whitespace may appear anywhere in them.

// quoteNumericKeys returns b with every unquoted numeric object key quoted,
// so encoding/json can read it. Valid JSON comes back unchanged (and
// unallocated).
func quoteNumericKeys(b []byte) []byte {
	var out []byte // nil until the first change
	last := 0
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if c != '{' && c != ',' {
			continue
		}
		// A key starts after optional whitespace; a bare number followed by
		// optional whitespace and ':' is a numeric key. In arrays a number is
		// never followed by ':', so "[1,2]" is left alone.
		j := skipSpace(b, i+1)
		k := j
		if k < len(b) && b[k] == '-' {
			k++
		}
		digits := k
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k == digits {
			continue
		}
		if m := skipSpace(b, k); m >= len(b) || b[m] != ':' {
			continue
		}
		out = append(out, b[last:j]...)
		out = append(out, '"')
		out = append(out, b[j:k]...)
		out = append(out, '"')
		last = k
		i = k - 1
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// member is one key-value pair of an object in fastjson's syntax, both
// halves as raw text.
type member struct {
	key, value []byte
}

// splitObject splits the object text b into its members. Keys may be
// strings, bare numbers or objects; values must be JSON values (which may
// themselves use fastjson keys: they are returned raw, for the caller to
// split further).
func splitObject(b []byte) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("%w: want an object", ErrBadBody)
	}
	i = skipSpace(b, i+1)
	var out []member
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, fmt.Errorf("%w: data after the object", ErrBadBody)
		}
		return out, nil
	}
	for {
		end, err := skipValue(b, i)
		if err != nil {
			return nil, err
		}
		key := b[i:end]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, fmt.Errorf("%w: want ':' at byte %d", ErrBadBody, i)
		}
		i = skipSpace(b, i+1)
		end, err = skipValue(b, i)
		if err != nil {
			return nil, err
		}
		out = append(out, member{key: key, value: b[i:end]})
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, fmt.Errorf("%w: object not closed", ErrBadBody)
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return nil, fmt.Errorf("%w: data after the object", ErrBadBody)
			}
			return out, nil
		}
		if b[i] != ',' {
			return nil, fmt.Errorf("%w: want ',' or '}' at byte %d", ErrBadBody, i)
		}
		i = skipSpace(b, i+1)
	}
}

// skipValue returns the index just past the value that starts at b[i]: a
// string, an object or array (brackets balanced, strings respected) or a
// bare literal (number, true, false, null).
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: value expected at end of input", ErrBadBody)
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("%w: string not closed", ErrBadBody)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: brackets not balanced", ErrBadBody)
	}
	j := i
	for j < len(b) && !endsLiteral(b[j]) {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("%w: unexpected %q at byte %d", ErrBadBody, b[i], i)
	}
	return j, nil
}

// unmarshalMember decodes raw JSON text into v, tolerating numeric keys.
func unmarshalMember(raw []byte, v any) error {
	if err := json.Unmarshal(quoteNumericKeys(raw), v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return nil
}

// keyName returns the name of a string key, or "" for other keys.
func keyName(key []byte) string {
	var s string
	if len(key) > 0 && key[0] == '"' && json.Unmarshal(key, &s) == nil {
		return s
	}
	return ""
}

func endsLiteral(c byte) bool {
	switch c {
	case ',', ':', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}
