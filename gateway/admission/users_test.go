package admission

import (
	"fmt"
	"testing"
	"time"
)

func TestUsersCap(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1000, Burst: 1000, UserRate: 1, UserBurst: 1, MaxUsers: 3})
	for i := range 10 {
		if d := l.Admit(fmt.Sprint("u", i)); d.Reason != Admitted {
			t.Fatalf("u%d: %v", i, d.Reason)
		}
	}
	if n := l.Users(); n != 3 {
		t.Fatalf("kept %d user buckets, want the cap, 3", n)
	}
	// The three most recent users are kept, so they are still limited.
	for i := 7; i < 10; i++ {
		if d := l.Admit(fmt.Sprint("u", i)); d.Reason != RejectedUser {
			t.Errorf("u%d (kept): %v, want RejectedUser", i, d.Reason)
		}
	}
	// An evicted user starts over with a full bucket (documented cost of the cap).
	if d := l.Admit("u0"); d.Reason != Admitted {
		t.Errorf("u0 (evicted): %v, want Admitted", d.Reason)
	}
	if n := l.Users(); n != 3 {
		t.Errorf("after re-admitting u0: %d buckets, want 3", n)
	}
}

func TestUsersExpiry(t *testing.T) {
	// Two tokens at one per second: a bucket idle for 2s is full again.
	l, clock := newLimiter(t, Config{Rate: 1000, Burst: 1000, UserRate: 1, UserBurst: 2})
	if ttl := l.users.ttl; ttl != 2*time.Second {
		t.Fatalf("ttl %v, want 2s", ttl)
	}
	l.Admit("a")
	l.Admit("a")
	l.Admit("b")
	clock.Advance(time.Second)
	l.Admit("c")
	if n := l.users.lru.Len(); n != 3 {
		t.Fatalf("%d buckets, want 3", n)
	}

	// At 2s a and b have been idle for the refill time; a new user's
	// arrival drops them without anyone asking for the count.
	clock.Advance(time.Second)
	l.Admit("d")
	if n := l.users.lru.Len(); n != 2 {
		t.Fatalf("after expiry: %d buckets (%v), want c and d", n, l.users.lru.Keys())
	}
	// a gets its full burst back, exactly as if it had been kept.
	for i := range 2 {
		if d := l.Admit("a"); d.Reason != Admitted {
			t.Fatalf("a, request %d after expiry: %v", i, d.Reason)
		}
	}
	if d := l.Admit("a"); d.Reason != RejectedUser {
		t.Fatalf("a beyond its burst: %v", d.Reason)
	}

	clock.Advance(time.Hour)
	if n := l.Users(); n != 0 {
		t.Errorf("after an hour idle: %d buckets, want 0", n)
	}
}

// TestUsersNotFilledByGlobalRejects: a spike of distinct users that the
// global bucket refuses leaves the user map empty.
func TestUsersNotFilledByGlobalRejects(t *testing.T) {
	l, _ := newLimiter(t, Config{Rate: 1, Burst: 1, UserRate: 1, UserBurst: 1})
	l.Admit("first")
	for i := range 1000 {
		if d := l.Admit(fmt.Sprint("u", i)); d.Reason != RejectedGlobal {
			t.Fatalf("u%d: %v", i, d.Reason)
		}
	}
	if n := l.Users(); n != 1 {
		t.Errorf("%d user buckets, want 1 (only the admitted user)", n)
	}
}
