package env

import (
	"strings"
	"testing"
	"time"
)

func TestReaderCollectsEveryProblem(t *testing.T) {
	vars := map[string]string{"N": "0", "A": "x", "D": "soon", "B": "maybe", "L": "a; b;;c", "F": "xml"}
	r := New(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if got := r.String("A", "def"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := r.String("UNSET", "def"); got != "def" {
		t.Errorf("String default = %q", got)
	}
	if got := r.List("L", "", ";"); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("List = %q", got)
	}
	if got := r.Duration("D", time.Second); got != time.Second {
		t.Errorf("bad Duration should return the default, got %v", got)
	}
	if got := r.Int("N", 7, 1, 10); got != 7 {
		t.Errorf("out-of-range Int should return the default, got %d", got)
	}
	r.Bool("B", false)
	r.OneOf("F", "text", "text", "json")
	r.Required("MISSING")
	err := r.Err()
	if err == nil {
		t.Fatal("no error for four bad variables")
	}
	for _, want := range []string{"N=", "D=", "B=", "F=", "MISSING"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
