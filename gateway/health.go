package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/surge-mq/surge/gateway/internal/apierror"
)

// ready answers /readyz: 200 when a broker the NameServer routes answers,
// 503 naming the broker otherwise.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.ReadyTimeout)
	defer cancel()
	if err := g.brokerReachable(ctx); err != nil {
		apierror.Write(w, http.StatusServiceUnavailable, apierror.CodeNotReady, "broker: "+err.Error())
		return
	}
	apierror.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ErrNoBroker: the NameServer knows no master broker.
var ErrNoBroker = errors.New("gateway: no master broker registered")

// brokerReachable asks the NameServer for the cluster and one of its
// master brokers for its runtime figures: a NameServer answer alone would
// not notice a dead broker for up to two minutes.
func (g *Gateway) brokerReachable(ctx context.Context) error {
	ci, err := g.admin.ClusterInfo(ctx)
	if err != nil {
		return fmt.Errorf("NameServer: %w", err)
	}
	var errs []error
	for _, bd := range ci.BrokerAddrTable {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		if _, err := g.admin.BrokerRuntime(ctx, addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		return nil
	}
	if len(errs) == 0 {
		return ErrNoBroker
	}
	return errors.Join(errs...)
}
