package loadtest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// A Phase is a stretch of the load profile at a constant rate.
type Phase struct {
	// Name labels the phase in the report: "baseline", "spike", "tail".
	Name string `json:"name"`
	// Duration is how long the phase lasts.
	Duration time.Duration `json:"duration"`
	// Rate is the offered request rate, requests per second (0 = silence).
	Rate float64 `json:"rate"`
}

// A Profile is the whole schedule of offered load, phase after phase.
type Profile []Phase

// Errors returned when a profile is built.
var ErrBadProfile = errors.New("loadtest: bad load profile")

// SpikeProfile is the flash-sale shape: baseline rate for baseline, then
// factor × that rate for spike, then the baseline rate again for tail.
func SpikeProfile(rate float64, factor float64, baseline, spike, tail time.Duration) (Profile, error) {
	p := Profile{
		{Name: "baseline", Duration: baseline, Rate: rate},
		{Name: "spike", Duration: spike, Rate: rate * factor},
		{Name: "tail", Duration: tail, Rate: rate},
	}
	return p, p.Validate()
}

// Validate reports every problem of the profile at once.
func (p Profile) Validate() error {
	var errs []error
	if len(p) == 0 {
		errs = append(errs, errors.New("no phases"))
	}
	for i, ph := range p {
		if ph.Duration < 0 {
			errs = append(errs, fmt.Errorf("phase %d (%s): negative duration %s", i, ph.Name, ph.Duration))
		}
		if ph.Rate < 0 || math.IsNaN(ph.Rate) || math.IsInf(ph.Rate, 0) {
			errs = append(errs, fmt.Errorf("phase %d (%s): rate %v must be a finite number ≥ 0", i, ph.Name, ph.Rate))
		}
	}
	if len(errs) == 0 && p.Total() == 0 {
		errs = append(errs, errors.New("total duration is zero"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadProfile, errors.Join(errs...))
	}
	return nil
}

// Total is the length of the whole profile.
func (p Profile) Total() time.Duration {
	var d time.Duration
	for _, ph := range p {
		d += ph.Duration
	}
	return d
}

// At returns the phase in force at elapsed and its start; ok is false past
// the end.
func (p Profile) At(elapsed time.Duration) (ph Phase, start time.Duration, ok bool) {
	for _, ph := range p {
		if elapsed < start+ph.Duration {
			return ph, start, true
		}
		start += ph.Duration
	}
	return Phase{}, start, false
}

// Window returns the start and end of the first phase with the name.
func (p Profile) Window(name string) (start, end time.Duration, ok bool) {
	for _, ph := range p {
		if ph.Name == name {
			return start, start + ph.Duration, true
		}
		start += ph.Duration
	}
	return 0, 0, false
}

// Hits is the number of requests the profile schedules in [0, elapsed).
func (p Profile) Hits(elapsed time.Duration) float64 {
	var n float64
	var start time.Duration
	for _, ph := range p {
		if elapsed <= start {
			break
		}
		d := min(elapsed-start, ph.Duration)
		n += ph.Rate * d.Seconds()
		start += ph.Duration
	}
	return n
}

// timeOfHit returns when hit n (counting from 0) leaves: when the
// cumulative schedule passes n, so a phase's hits fall in [start, end) and
// a silent phase gets none. ok is false if the profile ends first.
func (p Profile) timeOfHit(n float64) (time.Duration, bool) {
	var start time.Duration
	var done float64
	for _, ph := range p {
		in := ph.Rate * ph.Duration.Seconds()
		if ph.Rate > 0 && done+in > n {
			return start + time.Duration((n-done)/ph.Rate*float64(time.Second)), true
		}
		done += in
		start += ph.Duration
	}
	return 0, false
}

// String describes the profile: "baseline 10s@100/s, spike 5s@2000/s, ...".
func (p Profile) String() string {
	parts := make([]string, len(p))
	for i, ph := range p {
		parts[i] = fmt.Sprintf("%s %s@%g/s", ph.Name, ph.Duration, ph.Rate)
	}
	return strings.Join(parts, ", ")
}

// Pacer returns a vegeta Pacer that sends on the profile's schedule. It is
// an open model: the n-th request leaves when the schedule says so, however
// slow earlier answers are (vegeta starts more workers when all are busy),
// and a late sender catches up at once rather than skipping requests.
func (p Profile) Pacer() vegeta.Pacer { return profilePacer{p} }

type profilePacer struct{ p Profile }

// Pace implements vegeta.Pacer.
func (pp profilePacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	// The attack ends when every scheduled request left, not when the
	// clock passes the profile's end: a sender that fell behind (a loaded
	// machine) still sends what the profile scheduled, late.
	if float64(hits) >= math.Floor(pp.p.Hits(pp.p.Total())) {
		return 0, true
	}
	if float64(hits) < pp.p.Hits(elapsed) {
		return 0, false // behind schedule: send now
	}
	next, ok := pp.p.timeOfHit(float64(hits))
	if !ok {
		return 0, true
	}
	return next - elapsed, false
}

// Rate implements vegeta.Pacer.
func (pp profilePacer) Rate(elapsed time.Duration) float64 {
	ph, _, _ := pp.p.At(elapsed)
	return ph.Rate
}
