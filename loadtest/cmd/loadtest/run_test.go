package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseScenarios(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		tail    time.Duration
		settle  time.Duration
		wantErr string
	}{
		{"default spike", nil, 20 * time.Second, 60 * time.Second, ""},
		{"slow consumer preset", []string{"-scenario", "slow-consumer"}, 40 * time.Second, 300 * time.Second, ""},
		{"explicit flag beats preset", []string{"-scenario", "slow-consumer", "-tail", "5s"}, 5 * time.Second, 300 * time.Second, ""},
		{"broker restart with hook", []string{"-scenario", "broker-restart", "-during-spike", "true"}, 30 * time.Second, 180 * time.Second, ""},
		{"broker restart without hook", []string{"-scenario", "broker-restart"}, 0, 0, "needs -during-spike"},
		{"unknown scenario", []string{"-scenario", "tsunami"}, 0, 0, "want spike"},
		{"stray argument", []string{"now"}, 0, 0, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parse(tc.args, new(bytes.Buffer))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.tail != tc.tail || o.settleTimeout != tc.settle {
				t.Errorf("tail %s settle %s, want %s and %s", o.tail, o.settleTimeout, tc.tail, tc.settle)
			}
		})
	}
}

func TestRunWithoutInventoryFails(t *testing.T) {
	// A gateway that answers but an inventory that is not there: the run
	// cannot set the stock and says so, without writing a report.
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }))
	defer gw.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	dir := t.TempDir()
	err := run(t.Context(), []string{"-gateway", gw.URL, "-inventory-url", gone.URL, "-namesrv", "", "-out", dir}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "set stock") || errors.Is(err, errVerdictFailed) {
		t.Fatalf("err = %v, want a set-stock failure (exit 2)", err)
	}
}
