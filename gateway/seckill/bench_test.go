package seckill

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/gateway/internal/httpbench"
	"github.com/surge-mq/surge/mq/client"
)

// BenchmarkRejectPath measures a request refused by a bucket: parse,
// decide, answer 429. No broker runs; none is needed.
func BenchmarkRejectPath(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  admission.Config
		user string
	}{
		{"reason=global", admission.Config{Rate: 1e-9, Burst: 1, UserRate: 1, UserBurst: 1}, "user-42"},
		{"reason=user", admission.Config{Rate: 1e12, Burst: 1 << 30, UserRate: 1e-9, UserBurst: 1}, "user-0"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lim, err := admission.New(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			lim.Admit("user-0") // empties user-0's bucket, or the global one
			ids, _ := NewIDs(RandomKey())
			p, _ := client.NewProducer(client.WithNameServers("127.0.0.1:1"))
			defer p.Close()
			h, err := New(Config{Limiter: lim, Producer: p, IDs: ids})
			if err != nil {
				b.Fatal(err)
			}
			body := `{"user_id":"` + tc.user + `"}`
			rb := &httpbench.Body{}
			req := httptest.NewRequest(http.MethodPost, "/api/seckill/sku-1", nil)
			req.SetPathValue("activity", "sku-1")
			req.Body = rb
			w := httpbench.NewWriter()
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				w.Reset()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusTooManyRequests {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
