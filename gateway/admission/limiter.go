// Package admission decides, without waiting, whether a flash-sale request
// may enter the queue: a global token bucket bounds the rate of the whole
// gateway, a per-user bucket bounds each user's share of it.
//
// # Order of the checks
//
// Admit looks at the global bucket first without taking a token. When it is
// empty (the common case under a spike) the request is rejected at once:
// no user bucket is touched, so a flood of distinct users cannot fill the
// per-user map. Otherwise it reserves a token from the user's bucket (a
// user over their limit is rejected and the reservation cancelled), then
// takes the global token. If another request took the last global token in
// between, the user's reservation is cancelled and the request rejected as
// "global". So a global token is never spent on a request the user bucket
// rejects, and a user token is not spent on a request the global bucket
// rejects.
//
// # Memory
//
// User buckets live in a map capped at MaxUsers entries, least recently
// seen evicted first. A bucket idle for as long as it takes to refill
// (UserBurst/UserRate) is full again, exactly like a new one, so it is
// dropped without changing any decision; expired entries are removed as new
// users arrive. Only when more than MaxUsers users are active within that
// refill time does eviction forget a partly used bucket, handing that user a
// fresh burst; the global bucket still bounds the total.
package admission

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Config sets the buckets. Rates are tokens per second.
type Config struct {
	// Rate is the global admission rate. Required, > 0.
	Rate float64
	// Burst is the global bucket's size. Required, >= 1.
	Burst int
	// UserRate is each user's admission rate; 0 turns per-user limits off.
	UserRate float64
	// UserBurst is each user's bucket size; >= 1 when UserRate > 0.
	UserBurst int
	// MaxUsers caps the number of user buckets kept. Default 100000.
	MaxUsers int
	// Now is the clock. Default time.Now; tests pass a fake one.
	Now func() time.Time
}

// DefaultMaxUsers is MaxUsers when the field is zero.
const DefaultMaxUsers = 100_000

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("admission: invalid config")

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		bad("rate %v: must be a positive number", c.Rate)
	}
	if c.Burst < 1 {
		bad("burst %d: must be at least 1", c.Burst)
	}
	if c.UserRate < 0 || math.IsNaN(c.UserRate) || math.IsInf(c.UserRate, 0) {
		bad("user rate %v: must be a positive number, or 0 for no per-user limit", c.UserRate)
	}
	if c.UserRate > 0 && c.UserBurst < 1 {
		bad("user burst %d: must be at least 1", c.UserBurst)
	}
	if c.MaxUsers < 0 {
		bad("max users %d: must not be negative", c.MaxUsers)
	}
	return errors.Join(errs...)
}

// Reason is the outcome of Admit.
type Reason uint8

const (
	// Admitted: the request may be enqueued.
	Admitted Reason = iota
	// RejectedGlobal: the gateway-wide bucket is empty.
	RejectedGlobal
	// RejectedUser: this user's bucket is empty.
	RejectedUser
)

func (r Reason) String() string {
	switch r {
	case Admitted:
		return "admitted"
	case RejectedGlobal:
		return "global"
	case RejectedUser:
		return "user"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Decision is Admit's answer.
type Decision struct {
	Reason Reason
	// RetryAfter is how long until the bucket that refused holds a token
	// again; zero when admitted.
	RetryAfter time.Duration
}

// RetryAfterSeconds is the Retry-After header value for d: whole seconds,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	global *rate.Limiter
	rate   float64
	users  *userBuckets // nil when per-user limits are off
	now    func() time.Time
}

// New returns a Limiter with full buckets.
func New(c Config) (*Limiter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{global: rate.NewLimiter(rate.Limit(c.Rate), c.Burst), rate: c.Rate, now: c.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if c.UserRate > 0 {
		maxUsers := c.MaxUsers
		if maxUsers == 0 {
			maxUsers = DefaultMaxUsers
		}
		l.users = newUserBuckets(c.UserRate, c.UserBurst, maxUsers)
	}
	return l, nil
}

// Admit decides on one request of user without blocking. See the package
// comment for the order of the checks.
func (l *Limiter) Admit(user string) Decision {
	now := l.now()
	if tokens := l.global.TokensAt(now); tokens < 1 {
		return Decision{Reason: RejectedGlobal, RetryAfter: wait(1-tokens, l.rate)}
	}
	var userRes *rate.Reservation
	if l.users != nil {
		userRes = l.users.limiter(user, now).ReserveN(now, 1)
		if d := userRes.DelayFrom(now); d > 0 {
			userRes.CancelAt(now)
			return Decision{Reason: RejectedUser, RetryAfter: d}
		}
	}
	if !l.global.AllowN(now, 1) {
		if userRes != nil {
			userRes.CancelAt(now)
		}
		return Decision{Reason: RejectedGlobal, RetryAfter: wait(1-l.global.TokensAt(now), l.rate)}
	}
	return Decision{Reason: Admitted}
}

// Users returns how many user buckets are kept.
func (l *Limiter) Users() int {
	if l.users == nil {
		return 0
	}
	return l.users.len(l.now())
}

// wait is how long a bucket filling at ratePerSec takes to gain tokens.
func wait(tokens, ratePerSec float64) time.Duration {
	return time.Duration(math.Ceil(tokens / ratePerSec * float64(time.Second)))
}
