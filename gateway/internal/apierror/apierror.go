// Package apierror writes the platform's JSON error responses:
// {"error":{"code":"<stable_code>","message":"..."}}.
package apierror

import (
	"encoding/json"
	"net/http"
)

// Codes the gateway answers with. Clients branch on them; never rename one.
const (
	CodeBadRequest        = "bad_request"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeRateLimited       = "rate_limited"
	CodeBrokerUnavailable = "broker_unavailable"
	CodeUpstreamFailed    = "upstream_unavailable"
	CodeUpstreamTimeout   = "upstream_timeout"
	CodeNotReady          = "not_ready"
)

type body struct {
	Error detail `json:"error"`
}

type detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Body returns the JSON bytes of an error, for callers that write the same
// error often and build it once.
func Body(code, message string) []byte {
	b, _ := json.Marshal(body{detail{Code: code, Message: message}}) // strings always marshal
	return append(b, '\n')
}

// Write answers with status and an error body.
func Write(w http.ResponseWriter, status int, code, message string) {
	WriteBody(w, status, Body(code, message))
}

// WriteBody answers with status and a body made by Body.
func WriteBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	w.Write(b)
}

// Header values shared by every response; never modified.
var (
	jsonContentType = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Write(w, http.StatusInternalServerError, "internal", "encode response: "+err.Error())
		return
	}
	WriteBody(w, status, append(b, '\n'))
}
