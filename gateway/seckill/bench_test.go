package seckill

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/mq/client"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the handler and not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// rewindBody is a request body that can be read again.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// BenchmarkRejectPath measures a request refused by the empty global
// bucket: parse, decide, answer 429. No broker runs; none is needed.
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
			rb := &rewindBody{}
			req := httptest.NewRequest(http.MethodPost, "/api/seckill/sku-1", nil)
			req.SetPathValue("activity", "sku-1")
			req.Body = rb
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != http.StatusTooManyRequests {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
