package main

import (
	"testing"

	"github.com/surge-mq/surge/mq/bench/benchtest"
)

func TestBenchProducerAndConsumer(t *testing.T) {
	benchtest.RoundTrip(t, "surge", run)
}
