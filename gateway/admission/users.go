package admission

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// maxExpirePerCall bounds the expired entries one call removes, so that no
// request pays for a long backlog; each entry is removed once, so the work
// evens out.
const maxExpirePerCall = 8

// userBuckets is the size-capped, expiring map of per-user buckets.
type userBuckets struct {
	rate  rate.Limit
	burst int
	ttl   time.Duration // idle time after which a bucket is full again

	mu  sync.Mutex
	lru *simplelru.LRU[string, *userBucket] // guarded by mu; most recently seen first
}

type userBucket struct {
	lim  *rate.Limiter // never replaced
	seen time.Time     // last use; guarded by userBuckets.mu
}

func newUserBuckets(r float64, burst, maxUsers int) *userBuckets {
	lru, err := simplelru.NewLRU[string, *userBucket](maxUsers, nil)
	if err != nil {
		panic(err) // maxUsers > 0 is checked by New
	}
	ttl := time.Duration(math.Ceil(float64(burst) / r * float64(time.Second)))
	return &userBuckets{rate: rate.Limit(r), burst: burst, ttl: ttl, lru: lru}
}

// limiter returns user's bucket, creating it full if it is not kept.
func (u *userBuckets) limiter(user string, now time.Time) *rate.Limiter {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.expireLocked(now, maxExpirePerCall)
	b, ok := u.lru.Get(user)
	if !ok {
		b = &userBucket{lim: rate.NewLimiter(u.rate, u.burst)}
		u.lru.Add(user, b) // evicts the least recently seen when full
	}
	b.seen = now
	return b.lim
}

// expireLocked drops up to n buckets idle for at least ttl, oldest first.
func (u *userBuckets) expireLocked(now time.Time, n int) {
	for range n {
		_, b, ok := u.lru.GetOldest()
		if !ok || now.Sub(b.seen) < u.ttl {
			return
		}
		u.lru.RemoveOldest()
	}
}

// len returns the number of buckets kept after dropping expired ones.
func (u *userBuckets) len(now time.Time) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.expireLocked(now, math.MaxInt)
	return u.lru.Len()
}
