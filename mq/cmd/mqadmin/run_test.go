package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/mqtest"
)

func noEnv(string) string { return "" }

// admin runs one mqadmin command against the cluster.
func admin(t *testing.T, c *mqtest.Cluster, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(append([]string{args[0]}, "-n", c.NamesrvAddr), args[1:]...), &out, &errOut, noEnv)
	return out.String(), err
}

func TestAdminCommands(t *testing.T) {
	c := mqtest.Start(t)
	if out, err := admin(t, c, "clusterList"); err != nil || !strings.Contains(out, "DefaultCluster") || !strings.Contains(out, c.BrokerAddr) {
		t.Fatalf("clusterList: %v\n%s", err, out)
	}
	if out, err := admin(t, c, "updateTopic", "-t", "AdminCLI", "-r", "2", "-w", "2"); err != nil || !strings.Contains(out, "success") {
		t.Fatalf("updateTopic: %v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := admin(t, c, "topicList")
		if strings.Contains(out, "AdminCLI") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic not listed: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := admin(t, c, "sendMessage", "-t", "AdminCLI", "-body", "hello", "--tags", "T", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ OffsetMsgID string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.OffsetMsgID) != 32 {
		t.Fatalf("sendMessage --json: %v %s", err, out)
	}
	if out, err := admin(t, c, "queryMsgById", "-i", res.OffsetMsgID); err != nil || !strings.Contains(out, "Body: hello") {
		t.Fatalf("queryMsgById: %v %s", err, out)
	}
	if out, err := admin(t, c, "topicStatus", "-t", "AdminCLI"); err != nil || !strings.Contains(out, "#Max Offset") {
		t.Fatalf("topicStatus: %v %s", err, out)
	}
	if out, err := admin(t, c, "consumerProgress", "-g", "nobody", "-t", "AdminCLI"); err != nil || !strings.Contains(out, "Diff Total: 1") {
		t.Fatalf("consumerProgress: %v %s", err, out)
	}
	if out, err := admin(t, c, "brokerStatus", "-b", c.BrokerAddr); err != nil || !strings.Contains(out, "commitLogMaxOffset") {
		t.Fatalf("brokerStatus: %v %s", err, out)
	}
	if _, err := admin(t, c, "deleteTopic", "-t", "AdminCLI"); err != nil {
		t.Fatal(err)
	}
}

func TestAdminErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"topicList"}, &out, &errOut, noEnv); err == nil || !strings.Contains(err.Error(), "NAMESRV_ADDR") {
		t.Fatalf("no NameServer: %v", err)
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errOut, noEnv); err == nil {
		t.Fatal("unknown command accepted")
	}
	c := mqtest.Start(t)
	if _, err := admin(t, c, "topicRoute"); err == nil || !strings.Contains(err.Error(), "-t") {
		t.Fatalf("missing -t: %v", err)
	}
	if _, err := admin(t, c, "topicRoute", "-t", "Missing"); err == nil {
		t.Fatal("route of a missing topic succeeded")
	}
}

func TestAdminConsumeMessage(t *testing.T) {
	c := mqtest.Start(t)
	for _, body := range []string{"first", "second"} {
		if _, err := admin(t, c, "sendMessage", "-t", "AdminConsume", "-body", body); err != nil {
			t.Fatalf("sendMessage %s: %v", body, err)
		}
	}
	out, err := admin(t, c, "consumeMessage", "-t", "AdminConsume", "--count", "2", "--wait", "30s")
	if err != nil || !strings.Contains(out, "body=first") || !strings.Contains(out, "body=second") {
		t.Fatalf("consumeMessage: %v\n%s", err, out)
	}
}
