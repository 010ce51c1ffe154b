package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestErrorsHaveOneShape(t *testing.T) {
	r := NewRouter(nil, Check{Name: "database", Check: func(context.Context) error { return errors.New("down") }})
	r.Post("/thing", Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
		var v struct{ A int }
		if err := Decode(r, &v); err != nil {
			return err
		}
		if v.A < 0 {
			return BadRequest("a must be >= 0")
		}
		if v.A == 0 {
			return errors.New("boom")
		}
		return nil
	}))
	cases := []struct {
		name, method, path, body string
		status                   int
		code, contains           string
	}{
		{"bad json", "POST", "/thing", "{", 400, CodeInvalidJSON, ""},
		{"unknown field", "POST", "/thing", `{"B":1}`, 400, CodeInvalidJSON, "unknown field"},
		{"trailing data", "POST", "/thing", `{"A":1} {}`, 400, CodeInvalidJSON, "after"},
		{"validation", "POST", "/thing", `{"A":-1}`, 400, CodeBadRequest, "a must be"},
		{"internal hides details", "POST", "/thing", `{"A":0}`, 500, CodeInternal, "internal error"},
		{"no route", "GET", "/nope", "", 404, CodeNotFound, "/nope"},
		{"wrong method", "GET", "/thing", "", 405, CodeMethod, "GET"},
		{"not ready names the check", "GET", "/readyz", "", 503, CodeNotReady, "database: down"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
			if w.Code != c.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, c.status, w.Body)
			}
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if b.Error.Code != c.code || !strings.Contains(b.Error.Message, c.contains) {
				t.Fatalf("error %+v, want code %s containing %q", b.Error, c.code, c.contains)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	w := httptest.NewRecorder()
	NewRouter(nil).ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 {
		t.Fatalf("healthz %d", w.Code)
	}
}
