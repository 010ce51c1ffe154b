package loadtest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// ledger builds a ledger: admitted[i] is the user of request r<i>;
// outcomes gives each request's status ("" = never seen).
func ledger(stock int64, final *int64, admitted []string, outcomes []RequestStatus) Ledger {
	l := Ledger{StockInitial: stock, StockFinal: final, Outcomes: map[string]RequestStatus{}}
	for i, u := range admitted {
		id := fmt.Sprintf("r%d", i)
		l.Admissions = append(l.Admissions, AdmittedRequest{RequestID: id, User: u, At: time.Unix(int64(i), 0)})
		if i < len(outcomes) && outcomes[i].Status != "" {
			l.Outcomes[id] = outcomes[i]
		}
	}
	return l
}

var (
	ordered  = func(order string) RequestStatus { return RequestStatus{Status: StatusOrdered, OrderID: order} }
	soldOut  = RequestStatus{Status: StatusRejected, Reason: "sold_out"}
	dupe     = RequestStatus{Status: StatusRejected, Reason: "duplicate"}
	queued   = RequestStatus{Status: StatusQueued}
	notSeen  = RequestStatus{}
	checkAll = []string{"request IDs are unique", "admitted = ORDERED + REJECTED", "sold ≤ stock", "inventory agrees with orders",
		"stock never negative", "one order per user", "order IDs are unique", "admission is fair over users"}
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name   string
		l      Ledger
		failed []string
	}{
		{"clean sell-out", ledger(2, ptr(0), []string{"a", "b", "c", "a"}, []RequestStatus{ordered("o1"), ordered("o2"), soldOut, dupe}), nil},
		{"oversell", func() Ledger {
			l := ledger(2, ptr(-1), []string{"a", "b", "c"}, []RequestStatus{ordered("o1"), ordered("o2"), ordered("o3")})
			l.StockSeen = []int64{2, 1, -1}
			return l
		}(), []string{"sold ≤ stock", "stock never negative"}},
		{"duplicate order for one user", ledger(5, ptr(3), []string{"a", "b", "a"}, []RequestStatus{ordered("o1"), soldOut, ordered("o2")}),
			[]string{"one order per user"}},
		{"one order reported twice", ledger(5, ptr(3), []string{"a", "b"}, []RequestStatus{ordered("o1"), ordered("o1")}),
			[]string{"order IDs are unique"}},
		{"lost and stuck requests", ledger(5, ptr(4), []string{"a", "b", "c"}, []RequestStatus{ordered("o1"), queued, notSeen}),
			[]string{"admitted = ORDERED + REJECTED"}},
		{"stock moved without orders", ledger(5, ptr(2), []string{"a"}, []RequestStatus{ordered("o1")}),
			[]string{"inventory agrees with orders"}},
		{"inventory unreadable", ledger(5, nil, []string{"a"}, []RequestStatus{ordered("o1")}),
			[]string{"inventory agrees with orders", "stock never negative"}},
		{"repeated request ID", func() Ledger {
			l := ledger(5, ptr(4), []string{"a", "b"}, []RequestStatus{ordered("o1"), soldOut})
			l.Admissions[1].RequestID = "r0"
			return l
		}(), []string{"request IDs are unique"}},
		{"one user hogs the admissions", func() Ledger {
			users := []string{"a", "b", "c", "d"}
			for range 40 {
				users = append(users, "bot")
			}
			out := []RequestStatus{ordered("o1"), ordered("o2"), ordered("o3"), ordered("o4")}
			for range 40 {
				out = append(out, dupe)
			}
			return ledger(10, ptr(6), users, out)
		}(), []string{"admission is fair over users"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Reconcile(tc.l, ReconcileOptions{})
			if len(v.Checks) != len(checkAll) {
				t.Fatalf("%d checks, want %d", len(v.Checks), len(checkAll))
			}
			got := v.Failed()
			if !slices.Equal(got, tc.failed) {
				t.Errorf("failed checks = %q, want %q\n%+v", got, tc.failed, v.Checks)
			}
			if v.Passed() != (len(tc.failed) == 0) {
				t.Errorf("Passed() = %v with failures %q", v.Passed(), got)
			}
		})
	}
}

func TestReconcileCounts(t *testing.T) {
	v := Reconcile(ledger(2, ptr(0), []string{"a", "b", "c", "a"}, []RequestStatus{ordered("o1"), ordered("o2"), soldOut, dupe}), ReconcileOptions{})
	c := v.Counts
	if c.Admitted != 4 || c.Ordered != 2 || c.Rejected != 2 || c.UsersAdmitted != 3 || c.MaxAdmittedPerUser != 2 {
		t.Errorf("counts = %+v", c)
	}
	if c.Reasons["sold_out"] != 1 || c.Reasons["duplicate"] != 1 {
		t.Errorf("reasons = %v", c.Reasons)
	}
	// Jain over (2,1,1): 16 / (3·6).
	if want := 16.0 / 18; c.Jain < want-1e-9 || c.Jain > want+1e-9 {
		t.Errorf("Jain = %v, want %v", c.Jain, want)
	}
}

func TestJain(t *testing.T) {
	for _, tc := range []struct {
		xs   []int
		want float64
	}{{nil, 1}, {[]int{3, 3, 3}, 1}, {[]int{4, 0, 0, 0}, 0.25}, {[]int{1, 2}, 0.9}} {
		if got := jain(tc.xs); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("jain(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}
