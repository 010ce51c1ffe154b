package loadtest

import (
	"errors"
	"math"
	"testing"
	"time"
)

// simulate drives a pacer the way vegeta's attack loop does, with a
// perfect clock: it returns the hits sent in each second.
func simulate(t *testing.T, p Profile) []int {
	t.Helper()
	pacer := p.Pacer()
	perSecond := make([]int, int(math.Ceil(p.Total().Seconds())))
	var elapsed time.Duration
	for hits := uint64(0); ; hits++ {
		wait, stop := pacer.Pace(elapsed, hits)
		if stop {
			return perSecond
		}
		if wait < 0 {
			t.Fatalf("hit %d: negative wait %s", hits, wait)
		}
		elapsed += wait
		perSecond[int(elapsed/time.Second)]++
		if hits > 1e6 {
			t.Fatal("pacer never stops")
		}
	}
}

func TestPacerSpikeShape(t *testing.T) {
	p, err := SpikeProfile(100, 20, 3*time.Second, 2*time.Second, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := simulate(t, p)
	want := []int{100, 100, 100, 2000, 2000, 100, 100, 100}
	if len(got) != len(want) {
		t.Fatalf("seconds = %d, want %d", len(got), len(want))
	}
	for i := range want {
		// A hit on a second's boundary may land on either side of it.
		if d := got[i] - want[i]; d < -1 || d > 1 {
			t.Errorf("second %d: %d hits, want %d±1 (all: %v)", i, got[i], want[i], got)
		}
	}
	if total, want := sum(got), int(p.Hits(p.Total())); total < want-1 || total > want {
		t.Errorf("total hits %d, want %d", total, want)
	}
}

func TestPacerSilentPhase(t *testing.T) {
	p := Profile{{Name: "a", Duration: time.Second, Rate: 10}, {Name: "quiet", Duration: 2 * time.Second}, {Name: "b", Duration: time.Second, Rate: 10}}
	got := simulate(t, p)
	if got[1] != 0 || got[2] != 0 {
		t.Errorf("quiet phase sent %v", got)
	}
	if got[0] < 9 || got[3] < 9 {
		t.Errorf("active phases sent %v, want 10 each", got)
	}
}

func TestPacerCatchesUp(t *testing.T) {
	// Open model: a sender that fell behind (slow answers) sends at once
	// instead of waiting or skipping.
	p := Profile{{Name: "spike", Duration: 10 * time.Second, Rate: 1000}}
	wait, stop := p.Pacer().Pace(2*time.Second, 500) // 2000 due, 500 sent
	if stop || wait != 0 {
		t.Errorf("behind schedule: wait %s, stop %v; want 0, false", wait, stop)
	}
	if _, stop := p.Pacer().Pace(10*time.Second, 10000); !stop {
		t.Error("pacer did not stop at the end of the profile")
	}
	if r := p.Pacer().Rate(3 * time.Second); r != 1000 {
		t.Errorf("Rate = %v, want 1000", r)
	}
}

func TestProfileValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		ok   bool
	}{
		{"good", Profile{{Name: "x", Duration: time.Second, Rate: 1}}, true},
		{"empty", nil, false},
		{"negative rate", Profile{{Name: "x", Duration: time.Second, Rate: -1}}, false},
		{"NaN rate", Profile{{Name: "x", Duration: time.Second, Rate: math.NaN()}}, false},
		{"negative duration", Profile{{Name: "x", Duration: -time.Second, Rate: 1}}, false},
		{"zero length", Profile{{Name: "x", Rate: 1}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadProfile) {
				t.Errorf("error %v is not ErrBadProfile", err)
			}
		})
	}
}

func TestProfileWindow(t *testing.T) {
	p, _ := SpikeProfile(10, 5, 4*time.Second, 3*time.Second, time.Second)
	from, to, ok := p.Window("spike")
	if !ok || from != 4*time.Second || to != 7*time.Second {
		t.Errorf("spike window = %s..%s (%v), want 4s..7s", from, to, ok)
	}
	if ph, _, _ := p.At(5 * time.Second); ph.Rate != 50 {
		t.Errorf("rate in the spike = %v, want 50", ph.Rate)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
