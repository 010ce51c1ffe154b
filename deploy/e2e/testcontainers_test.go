//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/surge-mq/surge/mq/client"
)

// TestImagesWithTestcontainers starts a NameServer and a Broker from the
// platform image with testcontainers-go, on a network of the test's own,
// and drives them from the test process with Surge's client: what a Go
// integration test of a project built on Surge does.
//
// testcontainers' reaper (Ryuk) is an image of its own that an offline
// machine cannot pull; `make e2e` sets TESTCONTAINERS_RYUK_DISABLED=true, and
// the test removes its containers and network itself.
func TestImagesWithTestcontainers(t *testing.T) {
	requireBinaries(t, "mqnamesrv", "mqbroker", "probe")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	nw, err := network.New(ctx)
	if err != nil {
		t.Fatalf("create a network: %v", err)
	}
	t.Cleanup(func() { nw.Remove(context.Background()) })

	start := func(req testcontainers.ContainerRequest) testcontainers.Container {
		t.Helper()
		req.Image = platformImage()
		req.Networks = []string{nw.Name}
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
		if c != nil {
			t.Cleanup(func() { testcontainers.TerminateContainer(c) })
		}
		if err != nil {
			t.Fatalf("start %v: %v", req.Cmd, err)
		}
		return c
	}
	namesrv := start(testcontainers.ContainerRequest{
		Cmd:            []string{"mqnamesrv"},
		NetworkAliases: map[string][]string{nw.Name: {"namesrv"}},
		WaitingFor:     wait.ForExec([]string{"probe", "tcp://127.0.0.1:9876"}).WithStartupTimeout(time.Minute),
	})
	conf, err := filepath.Abs(filepath.Join(repoRoot(t), "deploy", "broker", "broker.conf"))
	if err != nil {
		t.Fatal(err)
	}
	start(testcontainers.ContainerRequest{
		Cmd:        []string{"mqbroker", "-c", "/etc/surge/broker.conf", "--store", "/var/lib/surge/store"},
		Env:        map[string]string{"NAMESRV_ADDR": "namesrv:9876"},
		Files:      []testcontainers.ContainerFile{{HostFilePath: conf, ContainerFilePath: "/etc/surge/broker.conf", FileMode: 0o444}},
		WaitingFor: wait.ForExec([]string{"probe", "tcp://127.0.0.1:10911"}).WithStartupTimeout(time.Minute),
	})

	// The broker advertises its address on the test's network, which the
	// host reaches on Linux; so does the NameServer's.
	ip, err := namesrv.ContainerIP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns := ip + ":9876"
	p, err := client.NewProducer(client.WithNameServers(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 20
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < n; {
		_, err := p.Send(ctx, &client.Message{Topic: "Testcontainers", Body: []byte(fmt.Sprint("m", i))})
		if err != nil {
			// The broker registers with the NameServer just after it
			// listens: the first sends may find no route yet.
			if time.Now().After(deadline) {
				t.Fatalf("send %d: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		i++
	}
	got := make(chan string, n)
	c, err := client.NewPushConsumer("tc-group", client.WithNameServers(ns), client.WithConsumeFromFirst())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("Testcontainers", "*", func(_ context.Context, msgs []*client.MessageExt) error {
		for _, m := range msgs {
			got <- string(m.Body)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case b := <-got:
			seen[b] = true
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d messages", len(seen), n)
		}
	}
}
