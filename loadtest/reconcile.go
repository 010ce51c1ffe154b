package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// AdmittedRequest is one 202 from the gateway.
type AdmittedRequest struct {
	RequestID string    `json:"request_id"`
	User      string    `json:"user_id"`
	At        time.Time `json:"at"`
}

// Ledger is everything a run saw, for reconciliation.
type Ledger struct {
	// Admissions are the 202 answers, in arrival order.
	Admissions []AdmittedRequest
	// Outcomes are the last statuses read, by request ID.
	Outcomes map[string]RequestStatus
	// StockInitial is the stock set before the run.
	StockInitial int64
	// StockFinal is the stock read after the run; nil if it could not be read.
	StockFinal *int64
	// StockSeen is every stock reading taken during the run.
	StockSeen []int64
}

// Counts sums up a ledger.
type Counts struct {
	Admitted           int            `json:"admitted"`
	RepeatedIDs        int            `json:"repeated_request_ids"`
	Ordered            int            `json:"ordered"`
	Rejected           int            `json:"rejected"`
	Queued             int            `json:"still_queued"`
	Unknown            int            `json:"never_seen"`
	Reasons            map[string]int `json:"reject_reasons"`
	UsersAdmitted      int            `json:"users_admitted"`
	MaxAdmittedPerUser int            `json:"max_admitted_per_user"`
	MaxOrderedPerUser  int            `json:"max_ordered_per_user"`
	RepeatedOrderIDs   int            `json:"repeated_order_ids"`
	Jain               float64        `json:"jain_index"`
}

// Check is one line of the verdict.
type Check struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// Verdict is the outcome of reconciliation.
type Verdict struct {
	Counts Counts  `json:"counts"`
	Checks []Check `json:"checks"`
}

// Passed reports whether every check held.
func (v Verdict) Passed() bool {
	for _, c := range v.Checks {
		if !c.OK {
			return false
		}
	}
	return len(v.Checks) > 0
}

// Failed lists the names of the checks that did not hold.
func (v Verdict) Failed() []string {
	var out []string
	for _, c := range v.Checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

// ReconcileOptions tunes the checks.
type ReconcileOptions struct {
	// MinJain is the lowest acceptable Jain's fairness index of admitted
	// slots over the users who got at least one. Default 0.5.
	MinJain float64
}

// Reconcile checks a ledger against the platform's promises: every
// admitted request ends as exactly one order or one rejection, nothing is
// sold beyond the stock, stock never goes negative, no user orders twice,
// and admitted slots are spread fairly over users.
func Reconcile(l Ledger, o ReconcileOptions) Verdict {
	if o.MinJain == 0 {
		o.MinJain = 0.5
	}
	c := count(l)
	var v Verdict
	v.Counts = c
	add := func(name, want, got string, ok bool) {
		v.Checks = append(v.Checks, Check{Name: name, Want: want, Got: got, OK: ok})
	}
	distinct := c.Admitted - c.RepeatedIDs
	add("request IDs are unique", "0 repeated", fmt.Sprintf("%d repeated", c.RepeatedIDs), c.RepeatedIDs == 0)
	add("admitted = ORDERED + REJECTED",
		fmt.Sprintf("%d settled", distinct),
		fmt.Sprintf("%d + %d = %d (%d still queued, %d never seen)", c.Ordered, c.Rejected, c.Ordered+c.Rejected, c.Queued, c.Unknown),
		c.Ordered+c.Rejected == distinct && c.Queued == 0 && c.Unknown == 0)
	add("sold ≤ stock", fmt.Sprintf("≤ %d", l.StockInitial), fmt.Sprintf("%d ORDERED", c.Ordered), int64(c.Ordered) <= l.StockInitial)
	if l.StockFinal == nil {
		add("inventory agrees with orders", fmt.Sprintf("stock %d − %d sold", l.StockInitial, c.Ordered), "inventory not read", false)
	} else {
		add("inventory agrees with orders", fmt.Sprintf("stock left %d", l.StockInitial-int64(c.Ordered)),
			fmt.Sprintf("stock left %d", *l.StockFinal), l.StockInitial-*l.StockFinal == int64(c.Ordered))
	}
	lowest, seen := lowestStock(l)
	if !seen {
		add("stock never negative", "≥ 0", "inventory not read", false)
	} else {
		add("stock never negative", "≥ 0", fmt.Sprintf("lowest %d", lowest), lowest >= 0)
	}
	add("one order per user", "≤ 1 per user", fmt.Sprintf("max %d", c.MaxOrderedPerUser), c.MaxOrderedPerUser <= 1)
	add("order IDs are unique", "0 repeated", fmt.Sprintf("%d repeated", c.RepeatedOrderIDs), c.RepeatedOrderIDs == 0)
	add("admission is fair over users", fmt.Sprintf("Jain ≥ %.2f", o.MinJain),
		fmt.Sprintf("Jain %.3f over %d users, max %d per user", c.Jain, c.UsersAdmitted, c.MaxAdmittedPerUser),
		c.UsersAdmitted == 0 || c.Jain >= o.MinJain)
	return v
}

func count(l Ledger) Counts {
	c := Counts{Admitted: len(l.Admissions), Reasons: map[string]int{}}
	ids := make(map[string]bool, len(l.Admissions))
	perUser := map[string]int{}
	orderedPerUser := map[string]int{}
	orderIDs := map[string]bool{}
	for _, a := range l.Admissions {
		if ids[a.RequestID] {
			c.RepeatedIDs++
			continue
		}
		ids[a.RequestID] = true
		perUser[a.User]++
		st, ok := l.Outcomes[a.RequestID]
		switch {
		case !ok:
			c.Unknown++
		case st.Status == StatusOrdered:
			c.Ordered++
			orderedPerUser[a.User]++
			if st.OrderID != "" {
				if orderIDs[st.OrderID] {
					c.RepeatedOrderIDs++
				}
				orderIDs[st.OrderID] = true
			}
		case st.Status == StatusRejected:
			c.Rejected++
			c.Reasons[st.Reason]++
		default:
			c.Queued++
		}
	}
	c.UsersAdmitted = len(perUser)
	c.MaxAdmittedPerUser = maxValue(perUser)
	c.MaxOrderedPerUser = maxValue(orderedPerUser)
	c.Jain = jain(slices.Collect(maps.Values(perUser)))
	return c
}

func maxValue(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// jain is Jain's fairness index (Σx)² / (n·Σx²): 1 when every x is equal,
// 1/n when one takes everything. 1 for no values.
func jain(xs []int) float64 {
	if len(xs) == 0 {
		return 1
	}
	var sum, sq float64
	for _, x := range xs {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	if sq == 0 {
		return 1
	}
	return sum * sum / (float64(len(xs)) * sq)
}

func lowestStock(l Ledger) (int64, bool) {
	all := slices.Clone(l.StockSeen)
	if l.StockFinal != nil {
		all = append(all, *l.StockFinal)
	}
	if len(all) == 0 {
		return 0, false
	}
	return slices.Min(all), true
}
