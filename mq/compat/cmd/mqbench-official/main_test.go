package main

import (
	"os"
	"testing"

	"github.com/surge-mq/surge/mq/bench/benchtest"
)

func TestMain(m *testing.M) {
	quietClient()
	os.Exit(m.Run())
}

// TestOfficialProducerAndConsumer: every send mode and the consumer work
// through the official client, with the same report as mqbench.
func TestOfficialProducerAndConsumer(t *testing.T) {
	benchtest.RoundTrip(t, "rocketmq-client-go/v2.1.2", run)
}
