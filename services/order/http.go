package order

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/httpx"
)

func (s *Service) routes(r chi.Router) {
	r.Post("/orders", httpx.Handle(s.log, s.postOrder))
	r.Get("/orders", httpx.Handle(s.log, s.listOrders))
	r.Get("/orders/{id}", httpx.Handle(s.log, s.getOrder))
	r.Get("/seckill/requests/{id}", httpx.Handle(s.log, s.getRequest))
}

// Error codes of the order API, besides httpx's.
const codeShuttingDown = "shutting_down"

func (s *Service) postOrder(w http.ResponseWriter, r *http.Request) error {
	var n NewOrder
	if err := httpx.Decode(r, &n); err != nil {
		return err
	}
	o, err := s.Place(r.Context(), n)
	switch {
	case errors.Is(err, ErrInvalid):
		return httpx.BadRequest("%s", err.Error())
	case errors.Is(err, ErrUnavailable):
		return &httpx.Error{Status: http.StatusServiceUnavailable, Code: httpx.CodeUnavailable, Message: err.Error()}
	case errors.Is(err, ErrShuttingDown):
		return &httpx.Error{Status: http.StatusServiceUnavailable, Code: codeShuttingDown, Message: err.Error()}
	case err != nil:
		return err
	}
	w.Header().Set("Location", "/orders/"+o.ID)
	httpx.WriteJSON(w, http.StatusCreated, o)
	return nil
}

func (s *Service) getOrder(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	o, err := s.store.get(r.Context(), id)
	return httpx.One(w, o, err, ErrNotFound, httpx.NotFound("no order %q", id))
}

// listLimit is how many orders GET /orders returns, newest first.
const listLimit = 100

func (s *Service) listOrders(w http.ResponseWriter, r *http.Request) error {
	user := r.URL.Query().Get("user")
	if !events.ValidID(user) {
		return httpx.BadRequest("query parameter user: required, %s", events.IDRule)
	}
	os, err := s.store.byUser(r.Context(), user, listLimit)
	return httpx.List(w, os, err)
}

func (s *Service) getRequest(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	req, err := s.store.request(r.Context(), id)
	return httpx.One(w, req, err, ErrNotFound, httpx.NotFound("the order service has not seen request %q", id))
}
