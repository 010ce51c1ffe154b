package seckill

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Status is the body of a status the gateway answers itself.
type Status struct {
	RequestID string `json:"request_id"`
	Status    string `json:"status"`
}

// QueuedWhenUnknown is the ModifyResponse of the proxy in front of the
// order service's GET /seckill/requests/{id}: a 404 for an ID this gateway
// issued becomes 200 {"request_id":id,"status":"QUEUED"} (the request is in
// the topic, the order service has not read it yet). Other answers,
// including 404 for IDs the gateway did not issue, pass unchanged.
func (h *Handler) QueuedWhenUnknown(resp *http.Response) error {
	if resp.StatusCode != http.StatusNotFound {
		return nil
	}
	_, id, ok := strings.Cut(resp.Request.URL.Path, upstreamStatusPath) // after the service's base path, if any
	if !ok || !h.cfg.IDs.Issued(id) {
		return nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	body := []byte(`{"request_id":"` + id + `","status":"QUEUED"}` + "\n") // id is hex and dashes
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header = http.Header{
		"Content-Type":   {"application/json"},
		"Content-Length": {strconv.Itoa(len(body))},
	}
	return nil
}
