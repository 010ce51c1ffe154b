package seckill

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestQueuedWhenUnknown(t *testing.T) {
	ids, _ := NewIDs(RandomKey())
	h := &Handler{cfg: Config{IDs: ids}}
	issued := ids.New()
	for _, tc := range []struct {
		name, path string
		status     int
		wantStatus int
		wantBody   string
	}{
		{"issued, unseen", "/seckill/requests/" + issued, 404, 200, `{"request_id":"` + issued + `","status":"QUEUED"}`},
		{"issued, behind a base path", "/v1/seckill/requests/" + issued, 404, 200, `{"request_id":"` + issued + `","status":"QUEUED"}`},
		{"issued, seen", "/seckill/requests/" + issued, 200, 200, "upstream"},
		{"not issued", "/seckill/requests/" + uuid.NewString(), 404, 404, "upstream"},
		{"issued, upstream failing", "/seckill/requests/" + issued, 500, 500, "upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{
				StatusCode: tc.status, Header: http.Header{"Content-Type": {"text/plain"}},
				Body:    io.NopCloser(strings.NewReader("upstream")),
				Request: &http.Request{URL: &url.URL{Path: tc.path}},
			}
			if err := h.QueuedWhenUnknown(resp); err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || strings.TrimSpace(string(body)) != tc.wantBody {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantBody != "upstream" && (resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(body))) {
				t.Errorf("headers %v, length %d", resp.Header, resp.ContentLength)
			}
		})
	}
}
