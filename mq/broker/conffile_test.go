package broker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/store"
)

// A broker.conf in the shape of RocketMQ's sample broker-a.properties.
const sampleConf = `# RocketMQ sample
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
deleteWhen=04
fileReservedTime=48
brokerRole=ASYNC_MASTER
flushDiskType=SYNC_FLUSH
namesrvAddr=127.0.0.1:9876;127.0.0.2:9876
listenPort = 10921
storePathRootDir=/var/lib/surge/store
mappedFileSizeCommitLog=268435456
maxMessageSize=1048576
messageDelayLevel=1s 5s 1m 2h 1d
autoCreateTopicEnable=false
brokerIP1: 10.1.2.3
sendMessageThreadPoolNums=16
`

func TestConfigFileRocketMQSample(t *testing.T) {
	var cfg Config
	warns, err := ParseConfig(strings.NewReader(sampleConf), "broker.conf", &cfg)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if len(warns) != 1 || warns[0].Line != 17 || !strings.Contains(warns[0].Msg, "sendMessageThreadPoolNums is ignored") {
		t.Fatalf("warnings = %v", warns)
	}
	want := []struct {
		name      string
		got, want any
	}{
		{"cluster", cfg.ClusterName, "DefaultCluster"},
		{"port", cfg.ListenPort, 10921},
		{"namesrv", strings.Join(cfg.NamesrvAddrs, ","), "127.0.0.1:9876,127.0.0.2:9876"},
		{"flush", cfg.Store.FlushType, store.SyncFlush},
		{"reserved", cfg.Store.FileReservedTime, 48 * time.Hour},
		{"deleteWhen", cfg.Store.DeleteWhen[0], 4},
		{"segment", cfg.Store.SegmentSize, int64(256 << 20)},
		{"delay levels", len(cfg.MessageDelayLevel), 5},
		{"last level", cfg.MessageDelayLevel[4], 24 * time.Hour},
		{"autoCreate", *cfg.AutoCreateTopicEnable, false},
		{"ip", cfg.BrokerIP, "10.1.2.3"},
	}
	for _, w := range want {
		if w.got != w.want {
			t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
		}
	}
}

func TestConfigFileErrors(t *testing.T) {
	conf := "listenPort=abc\nflushDiskType=SOMETIMES\nbrokerNme=x\njunk line\nmessageDelayLevel=1s 5x\n"
	var cfg Config
	warns, err := ParseConfig(strings.NewReader(conf), "b.conf", &cfg)
	if err == nil {
		t.Fatal("malformed values accepted")
	}
	for _, want := range []string{"b.conf:1: listenPort", "b.conf:2: flushDiskType", "b.conf:4:", "b.conf:5: messageDelayLevel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if len(warns) != 1 || warns[0].Line != 3 || !strings.Contains(warns[0].Msg, "unknown key brokerNme") {
		t.Errorf("warnings = %v", warns)
	}
}

func TestConfigFileRoundTrip(t *testing.T) {
	var cfg Config
	if _, err := ParseConfig(strings.NewReader(sampleConf), "broker.conf", &cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteConfig(&out, cfg); err != nil {
		t.Fatal(err)
	}
	var again Config
	warns, err := ParseConfig(&out, "printed", &again)
	if err != nil || len(warns) != 0 {
		t.Fatalf("printed config does not parse back: %v %v\n%s", err, warns, out.String())
	}
	if again.ListenPort != 10921 || again.Store.FlushType != store.SyncFlush || len(again.MessageDelayLevel) != 5 {
		t.Fatalf("round trip lost values: %+v", again)
	}
}
