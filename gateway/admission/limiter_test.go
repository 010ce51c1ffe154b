package admission

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLimiter(t *testing.T, c Config) (*Limiter, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	c.Now = clock.Now
	l, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return l, clock
}

type step struct {
	advance    time.Duration // before the request
	user       string
	want       Reason
	retryAfter time.Duration // exact, when rejected
}

func TestAdmitSequences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "global burst then rate",
			cfg:  Config{Rate: 2, Burst: 2},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "b", want: Admitted},
				{user: "c", want: RejectedGlobal, retryAfter: 500 * time.Millisecond},
				{advance: 200 * time.Millisecond, user: "c", want: RejectedGlobal, retryAfter: 300 * time.Millisecond},
				{advance: 300 * time.Millisecond, user: "c", want: Admitted},
				{user: "d", want: RejectedGlobal, retryAfter: 500 * time.Millisecond},
			},
		},
		{
			name: "slow global rate waits long",
			cfg:  Config{Rate: 0.1, Burst: 1},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "a", want: RejectedGlobal, retryAfter: 10 * time.Second},
				{advance: 9500 * time.Millisecond, user: "b", want: RejectedGlobal, retryAfter: 500 * time.Millisecond},
			},
		},
		{
			name: "per-user bucket",
			cfg:  Config{Rate: 1000, Burst: 1000, UserRate: 1, UserBurst: 2},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "a", want: Admitted},
				{user: "a", want: RejectedUser, retryAfter: time.Second},
				{user: "b", want: Admitted},
				{advance: 400 * time.Millisecond, user: "a", want: RejectedUser, retryAfter: 600 * time.Millisecond},
				{advance: 600 * time.Millisecond, user: "a", want: Admitted},
				{user: "a", want: RejectedUser, retryAfter: time.Second},
			},
		},
		{
			name: "user rejection spends no global token",
			cfg:  Config{Rate: 1, Burst: 2, UserRate: 0.01, UserBurst: 1},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "a", want: RejectedUser, retryAfter: 100 * time.Second},
				{user: "a", want: RejectedUser, retryAfter: 100 * time.Second},
				{user: "b", want: Admitted}, // the second global token is still there
				{user: "c", want: RejectedGlobal, retryAfter: time.Second},
			},
		},
		{
			name: "global rejection spends no user token",
			cfg:  Config{Rate: 1, Burst: 1, UserRate: 0.01, UserBurst: 1},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "b", want: RejectedGlobal, retryAfter: time.Second},
				{user: "b", want: RejectedGlobal, retryAfter: time.Second},
				{advance: time.Second, user: "b", want: Admitted}, // b's only token was kept
			},
		},
		{
			name: "per-user limits off",
			cfg:  Config{Rate: 1000, Burst: 3},
			steps: []step{
				{user: "a", want: Admitted},
				{user: "a", want: Admitted},
				{user: "a", want: Admitted},
				{user: "a", want: RejectedGlobal, retryAfter: time.Millisecond},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, clock := newLimiter(t, tc.cfg)
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				got := l.Admit(s.user)
				if got.Reason != s.want || got.RetryAfter != s.retryAfter {
					t.Fatalf("step %d (%s): got %v retry after %v, want %v retry after %v", i, s.user, got.Reason, got.RetryAfter, s.want, s.retryAfter)
				}
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Nanosecond, 1},
		{500 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{2500 * time.Millisecond, 3},
		{100 * time.Second, 100},
	} {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Rate: 0, Burst: 0, UserRate: -1, MaxUsers: -5}.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want ErrConfig", err)
	}
	// Every problem is reported at once.
	for _, want := range []string{"rate 0", "burst 0", "user rate -1", "max users -5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := (Config{Rate: 1, Burst: 1, UserRate: 1}).Validate(); err == nil || !strings.Contains(err.Error(), "user burst 0") {
		t.Errorf("user rate without burst: got %v", err)
	}
	if err := (Config{Rate: 1, Burst: 1}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

// TestAdmitConcurrent: with the clock stopped, exactly Burst requests get
// in however they race, and no user more than their burst.
func TestAdmitConcurrent(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 10, Burst: 50, UserRate: 1, UserBurst: 1})
	var admitted atomic.Int64
	perUser := make([]atomic.Int64, 100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				u := (g*500 + i) % len(perUser)
				if l.Admit(fmt.Sprint("user-", u)).Reason == Admitted {
					admitted.Add(1)
					perUser[u].Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 50 {
		t.Errorf("admitted %d, want exactly the burst, 50", got)
	}
	for u := range perUser {
		if n := perUser[u].Load(); n > 1 {
			t.Errorf("user-%d admitted %d times, burst is 1", u, n)
		}
	}
}
