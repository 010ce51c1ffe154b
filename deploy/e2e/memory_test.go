package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// parseMemUsage reads the used part of `docker stats`' MemUsage column,
// e.g. "32.85MiB / 256MiB", in bytes.
func parseMemUsage(s string) (int64, error) {
	used, _, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("memory usage %q: want \"<used> / <limit>\"", s)
	}
	used = strings.TrimSpace(used)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"B", 1},
	}
	for _, u := range units {
		if num, ok := strings.CutSuffix(used, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("memory usage %q: bad number %q", s, num)
			}
			return int64(f * u.mult), nil
		}
	}
	return 0, fmt.Errorf("memory usage %q: unknown unit", s)
}

func TestParseMemUsage(t *testing.T) {
	for in, want := range map[string]int64{
		"32.85MiB / 256MiB": 34445721,
		"6MiB / 64MiB":      6 << 20,
		"1.5GiB / 2GiB":     3 << 29,
		"512KiB / 64MiB":    512 << 10,
		"0B / 0B":           0,
		"12.5MB / 1GB":      12500000,
	} {
		got, err := parseMemUsage(in)
		if err != nil || got != want {
			t.Errorf("parseMemUsage(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12MiB", "x MiB / 1GiB", "12 parsecs / 1GiB", "-1MiB / 2MiB"} {
		if _, err := parseMemUsage(in); err == nil {
			t.Errorf("parseMemUsage(%q): no error", in)
		}
	}
}
