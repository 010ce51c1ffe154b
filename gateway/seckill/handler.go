package seckill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/surge-mq/surge/gateway/admission"
	"github.com/surge-mq/surge/gateway/internal/apierror"
	"github.com/surge-mq/surge/mq/client"
	"github.com/surge-mq/surge/services/events"
)

// Routes, for an http.ServeMux.
const (
	// Pattern is the admission endpoint.
	Pattern = "POST /api/seckill/{activity}"
	// StatusPattern is the status endpoint; StatusPath + ID is its URL.
	StatusPattern = "GET /api/seckill/requests/{id}"
	StatusPath    = "/api/seckill/requests/"
	// upstreamStatusPath is the order service's status path.
	upstreamStatusPath = "/seckill/requests/"
)

// Limits of the request.
const (
	maxBody  = 4 << 10
	maxField = 128 // bytes of user_id and activity
)

// DefaultSendTimeout bounds a send when Config.SendTimeout is zero.
const DefaultSendTimeout = 3 * time.Second

// ErrNotConfirmed: the broker answered a send with a status other than
// SendOK (e.g. a flush timeout), so the gateway cannot promise the request
// is stored.
var ErrNotConfirmed = errors.New("seckill: send not confirmed by the broker")

// Config wires a Handler.
type Config struct {
	// Limiter decides admissions. Required.
	Limiter *admission.Limiter
	// Producer sends admitted requests. Required; the caller closes it
	// after the HTTP server has stopped (Close waits for background sends).
	Producer *client.Producer
	// IDs issues request IDs. Required.
	IDs *IDs
	// SendTimeout bounds one send, retries included. Default 3s.
	SendTimeout time.Duration
	// AckBeforeSend answers 202 before the broker confirmed the send
	// (the send runs in the background). For teaching only: a request
	// answered 202 may never be stored. Default off.
	AckBeforeSend bool
	// Logger logs failed sends. Default: discard.
	Logger *slog.Logger
}

// Handler serves the admission endpoint. Build it with New.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	stats Stats

	// Prebuilt bodies of the hot rejection path.
	bodyGlobal, bodyUser []byte
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Limiter == nil {
		errs = append(errs, errors.New("seckill: Config.Limiter is required"))
	}
	if cfg.Producer == nil {
		errs = append(errs, errors.New("seckill: Config.Producer is required"))
	}
	if cfg.IDs == nil {
		errs = append(errs, errors.New("seckill: Config.IDs is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	h := &Handler{
		cfg:        cfg,
		log:        cfg.Logger,
		bodyGlobal: apierror.Body(apierror.CodeRateLimited, "the flash sale is at capacity; retry after the Retry-After seconds"),
		bodyUser:   apierror.Body(apierror.CodeRateLimited, "too many requests from this user; retry after the Retry-After seconds"),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.stats.users = cfg.Limiter.Users
	return h, nil
}

// Stats returns the handler's counters.
func (h *Handler) Stats() *Stats { return &h.stats }

// Accepted is the 202 body.
type Accepted struct {
	RequestID string `json:"request_id"`
	StatusURL string `json:"status_url"`
}

type request struct {
	UserID string `json:"user_id"`
}

// bodies recycles request body buffers, so that the rejection path
// allocates little.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP admits or refuses one request (Pattern).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	activity := r.PathValue("activity")
	buf := bodies.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bodies.Put(buf) }()
	user, err := readUser(buf, r.Body)
	if err == nil {
		err = checkField("activity", activity)
	}
	if err != nil {
		h.stats.invalid.Add(1)
		apierror.Write(w, http.StatusBadRequest, apierror.CodeBadRequest, err.Error())
		return
	}

	h.stats.offered.Add(1)
	d := h.cfg.Limiter.Admit(user)
	switch d.Reason {
	case admission.RejectedGlobal:
		h.stats.rejectedGlobal.Add(1)
		reject(w, d.RetryAfter, h.bodyGlobal)
		return
	case admission.RejectedUser:
		h.stats.rejectedUser.Add(1)
		reject(w, d.RetryAfter, h.bodyUser)
		return
	}
	h.stats.admitted.Add(1)
	h.enqueue(w, r, activity, user)
}

// reject answers 429. It runs for most requests of a spike: no logging,
// a prebuilt body.
func reject(w http.ResponseWriter, retryAfter time.Duration, body []byte) {
	w.Header()["Retry-After"] = []string{strconv.FormatInt(admission.RetryAfterSeconds(retryAfter), 10)}
	apierror.WriteBody(w, http.StatusTooManyRequests, body)
}

// readUser reads the JSON body into buf and returns its user_id.
func readUser(buf *bytes.Buffer, body io.Reader) (string, error) {
	n, err := buf.ReadFrom(io.LimitReader(body, maxBody+1))
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	if n > maxBody {
		return "", fmt.Errorf("body larger than %d bytes", maxBody)
	}
	var req request
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		return "", fmt.Errorf(`body must be {"user_id":"..."}: %w`, err)
	}
	return req.UserID, checkField("user_id", req.UserID)
}

// checkField refuses empty, long or unprintable identifiers.
func checkField(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is required", name)
	case len(v) > maxField:
		return fmt.Errorf("%s longer than %d bytes", name, maxField)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }):
		return fmt.Errorf("%s must be printable UTF-8", name)
	}
	return nil
}

// enqueue sends an admitted request and answers 202, or 503 when the
// broker did not confirm it.
func (h *Handler) enqueue(w http.ResponseWriter, r *http.Request, activity, user string) {
	id := h.cfg.IDs.New()
	body, err := events.Encode(&events.SeckillRequested{RequestID: id, Activity: activity, UserID: user, RequestedAt: time.Now().UTC()})
	if err != nil { // a plain struct of strings: cannot happen
		h.failed(w, r, id, err)
		return
	}
	msg := &client.Message{Topic: events.TopicSeckill, Tags: events.TagSeckillRequested, Keys: []string{id}, Body: body}
	h.stats.inFlight.Add(1)
	if h.cfg.AckBeforeSend {
		h.sendInBackground(w, r, id, msg)
		return
	}
	// The send outlives a client that hangs up: a half-finished send
	// would leave the request stored or not without anyone knowing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.cfg.SendTimeout)
	res, err := h.cfg.Producer.Send(ctx, msg)
	cancel()
	h.stats.inFlight.Add(-1)
	if err = confirmed(res, err); err != nil {
		h.failed(w, r, id, err)
		return
	}
	h.stats.enqueued.Add(1)
	accept(w, id)
}

// sendInBackground is the AckBeforeSend path: answer first, send later.
func (h *Handler) sendInBackground(w http.ResponseWriter, r *http.Request, id string, msg *client.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SendTimeout)
	err := h.cfg.Producer.SendAsync(ctx, msg, func(res *client.SendResult, err error) {
		cancel()
		h.stats.inFlight.Add(-1)
		if err = confirmed(res, err); err != nil {
			h.stats.enqueueErrors.Add(1)
			h.log.Warn("seckill request lost after 202", "request_id", id, "topic", msg.Topic, "err", err)
			return
		}
		h.stats.enqueued.Add(1)
	})
	if err != nil { // the producer is closed: not even started
		cancel()
		h.stats.inFlight.Add(-1)
		h.failed(w, r, id, err)
		return
	}
	accept(w, id)
}

func confirmed(res *client.SendResult, err error) error {
	switch {
	case err != nil:
		return err
	case res.Status != client.SendOK:
		return fmt.Errorf("%w: status %d", ErrNotConfirmed, res.Status)
	}
	return nil
}

func accept(w http.ResponseWriter, id string) {
	apierror.WriteJSON(w, http.StatusAccepted, Accepted{RequestID: id, StatusURL: StatusPath + id})
}

// failed answers 503 for a request that was not queued.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, id string, err error) {
	h.stats.enqueueErrors.Add(1)
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "seckill request not queued",
		slog.String("request_id", id), slog.String("topic", events.TopicSeckill), slog.Any("err", err))
	w.Header().Set("Retry-After", "1")
	apierror.Write(w, http.StatusServiceUnavailable, apierror.CodeBrokerUnavailable, "the request was not queued; try again")
}
