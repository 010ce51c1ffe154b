package admission

import (
	"testing"
	"time"
)

// BenchmarkAdmitRejected measures a refusal of the global bucket, the path
// every request of a spike beyond the rate takes.
func BenchmarkAdmitRejected(b *testing.B) {
	l, err := New(Config{Rate: 1e-9, Burst: 1, UserRate: 1, UserBurst: 1})
	if err != nil {
		b.Fatal(err)
	}
	l.Admit("first")
	b.ReportAllocs()
	for b.Loop() {
		if l.Admit("user-42").Reason != RejectedGlobal {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkAdmitRejectedUser measures a refusal by a user's bucket while
// the global bucket has tokens.
func BenchmarkAdmitRejectedUser(b *testing.B) {
	l, err := New(Config{Rate: 1e12, Burst: 1 << 30, UserRate: 1e-9, UserBurst: 1, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		b.Fatal(err)
	}
	l.Admit("user-42")
	b.ReportAllocs()
	for b.Loop() {
		if l.Admit("user-42").Reason != RejectedUser {
			b.Fatal("not rejected by the user bucket")
		}
	}
}
