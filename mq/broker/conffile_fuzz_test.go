package broker

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseConfig: any broker.conf text gives an error or a configuration,
// never a panic, and an accepted configuration survives being written out
// and read back (what `mqbroker -p` prints can be used as a config file).
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"brokerName=broker-a\nbrokerClusterName=DefaultCluster\nlistenPort=10911\n",
		"flushDiskType=SYNC_FLUSH\nmappedFileSizeCommitLog=1073741824\n",
		"# comment\n! comment too\n\nnamesrvAddr = 127.0.0.1:9876;10.0.0.2:9876\n",
		"deleteWhen=04\nfileReservedTime=48\ndiskMaxUsedSpaceRatio=75\n",
		"messageDelayLevel=1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h\n",
		"autoCreateTopicEnable:true\nbrokerIP1=10.0.0.1\n",
		"listenPort=-1\n",           // out of range
		"flushDiskType=SOMETIMES\n", // bad enum
		"=novalue\n",                // no key
		"brokerRole=SLAVE\n",
		"unknownKey=1\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var cfg Config
		if _, err := ParseConfig(strings.NewReader(text), "fuzz.conf", &cfg); err != nil {
			return
		}
		var first bytes.Buffer
		if err := WriteConfig(&first, cfg); err != nil {
			t.Fatal(err)
		}
		var again Config
		if _, err := ParseConfig(bytes.NewReader(first.Bytes()), "printed.conf", &again); err != nil {
			t.Fatalf("printed configuration does not parse: %v\n%s", err, first.String())
		}
		var second bytes.Buffer
		if err := WriteConfig(&second, again); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Fatalf("round trip changed the configuration:\n%s\n---\n%s", first.String(), second.String())
		}
	})
}
