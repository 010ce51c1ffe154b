package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// logRequests logs each request once it is answered: at info, except
// refusals (429) and probes, which a spike or a scraper would turn into a
// flood, at debug.
func (g *Gateway) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if sw.status == http.StatusTooManyRequests || quietPaths[r.URL.Path] {
			level = slog.LevelDebug
		}
		if !g.log.Enabled(r.Context(), level) {
			return
		}
		g.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", g.clients.Addr(r).String()))
	})
}

// quietPaths are probed often; their requests log at debug.
var quietPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// proxied responses).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
