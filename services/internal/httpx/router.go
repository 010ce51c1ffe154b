package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Check is a readiness check: nil when Name (a dependency such as
// "database" or "broker") is reachable.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// NewRouter returns a chi router with request logging, panic recovery,
// JSON 404/405 answers, GET /healthz (200 while the process runs) and GET
// /readyz (200 when every check passes, else 503 naming what is not ready).
func NewRouter(log *slog.Logger, checks ...Check) chi.Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, logRequests(log))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, NotFound("no route for %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethod, Message: r.Method + " is not allowed on " + r.URL.Path})
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		var failed []error
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				failed = append(failed, fmt.Errorf("%s: %w", c.Name, err))
			}
		}
		if len(failed) > 0 {
			WriteError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: errors.Join(failed...).Error()})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return r
}

// logRequests logs one line per request, at debug for health probes.
func logRequests(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				level = slog.LevelDebug
			}
			log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path,
				"status", ww.Status(), "bytes", ww.BytesWritten(), "duration", time.Since(start))
		})
	}
}

// Serve serves h on addr until ctx ends, then shuts down gracefully:
// stops accepting, lets in-flight requests finish (up to grace), returns.
func Serve(ctx context.Context, addr string, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("http listening", "addr", addr)
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
