package seckill

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestIDs(t *testing.T) {
	a, err := NewIDs(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewIDs(bytes.Repeat([]byte{2}, 32))
	seen := map[string]bool{}
	for range 1000 {
		id := a.New()
		if seen[id] {
			t.Fatalf("ID %s issued twice", id)
		}
		seen[id] = true
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("ID %s is not a version-8 UUID: %v", id, err)
		}
		if !a.Issued(id) {
			t.Fatalf("own ID %s not recognised", id)
		}
		if b.Issued(id) {
			t.Fatalf("ID %s recognised under another key", id)
		}
	}
	id := a.New()
	for name, other := range map[string]string{
		"random UUID":      uuid.NewString(),
		"one digit off":    id[:35] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", id[35])+1)%16]),
		"upper case":       strings.ToUpper(id),
		"braces":           "{" + id + "}",
		"urn":              "urn:uuid:" + id,
		"empty":            "",
		"not an ID at all": "../../etc/passwd",
	} {
		if a.Issued(other) {
			t.Errorf("%s: %q recognised as issued", name, other)
		}
	}
}

func TestIDsShortKey(t *testing.T) {
	if _, err := NewIDs([]byte("short")); !errors.Is(err, ErrShortKey) {
		t.Errorf("got %v, want ErrShortKey", err)
	}
}
