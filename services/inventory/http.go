package inventory

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/surge-mq/surge/services/events"
	"github.com/surge-mq/surge/services/internal/httpx"
)

func (s *Service) routes(r chi.Router) {
	r.Get("/products", httpx.Handle(s.log, s.listProducts))
	r.Get("/products/{sku}", httpx.Handle(s.log, s.getProduct))
	r.Put("/admin/products/{sku}", httpx.Handle(s.log, s.putProduct))
}

func (s *Service) listProducts(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.store.list(r.Context())
	return httpx.List(w, ps, err)
}

func (s *Service) getProduct(w http.ResponseWriter, r *http.Request) error {
	sku := chi.URLParam(r, "sku")
	p, err := s.store.get(r.Context(), sku)
	return httpx.One(w, p, err, ErrNotFound, httpx.NotFound("no product %q", sku))
}

// putRequest is PUT /admin/products/{sku}: every field is required.
type putRequest struct {
	Name       *string `json:"name"`
	PriceCents *int64  `json:"price_cents"`
	Stock      *int    `json:"stock"`
}

const maxStock = 1_000_000_000

func (s *Service) putProduct(w http.ResponseWriter, r *http.Request) error {
	sku := chi.URLParam(r, "sku")
	if !events.ValidSKU(sku) {
		return httpx.BadRequest("sku %q: want %s", sku, events.SKURule)
	}
	var req putRequest
	if err := httpx.Decode(r, &req); err != nil {
		return err
	}
	switch {
	case req.Name == nil || *req.Name == "" || len(*req.Name) > 200:
		return httpx.BadRequest("name: required, at most 200 bytes")
	case req.PriceCents == nil || *req.PriceCents < 0:
		return httpx.BadRequest("price_cents: required, an integer >= 0 (cents)")
	case req.Stock == nil || *req.Stock < 0 || *req.Stock > maxStock:
		return httpx.BadRequest("stock: required, an integer from 0 to %d", maxStock)
	}
	p, err := s.store.put(r.Context(), Product{SKU: sku, Name: *req.Name, PriceCents: *req.PriceCents, Stock: *req.Stock})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, p)
	return nil
}
