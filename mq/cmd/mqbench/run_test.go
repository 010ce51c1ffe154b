package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surge-mq/surge/mq/mqtest"
)

func TestBenchProducerAndConsumer(t *testing.T) {
	c := mqtest.Start(t)
	sum := filepath.Join(t.TempDir(), "sum.json")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"producer", "-n", c.NamesrvAddr, "-t", "B", "-c", "4", "-x", "200", "-d", "20s", "-json", sum}, &out, &errOut)
	if err != nil {
		t.Fatalf("producer: %v\n%s", err, errOut.String())
	}
	var s Summary
	b, _ := os.ReadFile(sum)
	if err := json.Unmarshal(b, &s); err != nil || s.Messages != 200 || s.Errors != 0 || s.P99Micros <= 0 || s.FlushMode != "ASYNC_FLUSH" {
		t.Fatalf("summary %+v %v\n%s", s, err, out.String())
	}
	if !strings.Contains(out.String(), "flushDiskType=ASYNC_FLUSH") {
		t.Fatalf("output does not name the broker's flush mode:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"consumer", "-n", c.NamesrvAddr, "-t", "B", "-pull", "128", "-d", "3s", "-json", sum}, &out, &errOut); err != nil {
		t.Fatalf("consumer: %v", err)
	}
	b, _ = os.ReadFile(sum)
	if err := json.Unmarshal(b, &s); err != nil || s.Messages != 200 {
		t.Fatalf("consumer summary %+v %v", s, err)
	}
}

func TestBenchBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{}, {"producer"}, {"producer", "-n", "x:1", "-m", "sideways"}, {"producer", "-n", "x:1", "-c", "0"}, {"consumer", "-n", "x:1", "-pull", "0"}, {"consumer", "-n", "x:1", "-pull", "1025"}} {
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
