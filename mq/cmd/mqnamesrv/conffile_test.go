package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/surge-mq/surge/mq/namesrv"
)

func TestParseConf(t *testing.T) {
	defaults := namesrv.Config{ListenAddr: "0.0.0.0:9876", ScanInterval: 10 * time.Second}
	tests := []struct {
		name      string
		text      string
		wantAddr  string
		wantScan  time.Duration
		wantOrder bool
		wantWarns []string // "line key: message substring"
		wantErrs  []string // substrings, each naming its line
	}{
		{
			name:     "empty file keeps the defaults",
			text:     "",
			wantAddr: "0.0.0.0:9876", wantScan: 10 * time.Second,
		},
		{
			name:     "comments, blank lines and separators",
			text:     "# a comment\n! another\n\n  listenPort = 19876  \nscanNotActiveBrokerInterval:5000\norderMessageEnable=true\n",
			wantAddr: "0.0.0.0:19876", wantScan: 5 * time.Second, wantOrder: true,
		},
		{
			name:     "listenPort replaces the port of listenAddr, in either order",
			text:     "listenPort=9100\nlistenAddr=127.0.0.1:9000\n",
			wantAddr: "127.0.0.1:9100", wantScan: 10 * time.Second,
		},
		{
			name:     "IPv6 listen address",
			text:     "listenAddr=[::1]:9876\n",
			wantAddr: "[::1]:9876", wantScan: 10 * time.Second,
		},
		{
			name:     "RocketMQ keys are accepted with a warning",
			text:     "rocketmqHome=/opt/rocketmq\nkvConfigPath=/root/namesrv/kvConfig.json\n\nserverWorkerThreads=8\n",
			wantAddr: "0.0.0.0:9876", wantScan: 10 * time.Second,
			wantWarns: []string{
				"1 rocketmqHome: RocketMQ config key ignored by Surge: not needed",
				"2 kvConfigPath: RocketMQ config key ignored by Surge: KV settings are kept in memory",
				"4 serverWorkerThreads: RocketMQ config key ignored by Surge: goroutines",
			},
		},
		{
			name:     "an unknown key is a warning naming its line",
			text:     "listenPort=9876\nlistenPrt=9877\n",
			wantAddr: "0.0.0.0:9876", wantScan: 10 * time.Second,
			wantWarns: []string{"2 listenPrt: unknown config key ignored (a typo?): "},
		},
		{
			name:     "a key set twice: the later line wins, with a warning",
			text:     "listenPort=1\nlistenPort=2\n",
			wantAddr: "0.0.0.0:2", wantScan: 10 * time.Second,
			wantWarns: []string{"2 listenPort: config key set again; the later line wins: first at conf:1"},
		},
		{
			name: "every malformed value is reported, each with its line",
			text: "listenPort=99999\n# ok\nscanNotActiveBrokerInterval=soon\nlistenAddr=localhost\norderMessageEnable=yes\njust words\nscanNotActiveBrokerInterval=-5\ntypo=1\n",
			wantErrs: []string{
				"conf:1: listenPort: want a port number 0-65535",
				"conf:3: scanNotActiveBrokerInterval: want a positive number of milliseconds",
				`conf:4: listenAddr: want host:port, got "localhost"`,
				"conf:5: orderMessageEnable: want true or false",
				`conf:6: "just words" is not key=value`,
				"conf:7: scanNotActiveBrokerInterval",
			},
			wantWarns: []string{"7 scanNotActiveBrokerInterval: config key set again; the later line wins: first at conf:3", "8 typo: unknown config key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaults
			warns, err := parseConf(strings.NewReader(tt.text), "conf", &cfg)
			var got []string
			for _, w := range warns {
				got = append(got, fmt.Sprintf("%d %s: %s: %s", w.line, w.key, w.msg, w.detail))
				if w.at() != fmt.Sprintf("conf:%d", w.line) {
					t.Errorf("warning position %q", w.at())
				}
			}
			if len(got) != len(tt.wantWarns) {
				t.Fatalf("warnings %q, want %q", got, tt.wantWarns)
			}
			for i, w := range tt.wantWarns {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q, want %q", got[i], w)
				}
			}
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErrs)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.wantErrs) {
					t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(tt.wantErrs), err)
				}
				for i, want := range tt.wantErrs {
					if !strings.Contains(lines[i], want) {
						t.Errorf("error line %d: %q, want %q", i, lines[i], want)
					}
				}
				if cfg.ListenAddr != defaults.ListenAddr || cfg.ScanInterval != defaults.ScanInterval || cfg.OrderMessageEnable {
					t.Errorf("config changed despite errors: %+v", cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ListenAddr != tt.wantAddr || cfg.ScanInterval != tt.wantScan || cfg.OrderMessageEnable != tt.wantOrder {
				t.Fatalf("config %+v, want addr %s scan %v order %v", cfg, tt.wantAddr, tt.wantScan, tt.wantOrder)
			}
		})
	}
}

// FuzzParseConf checks that no namesrv.conf text panics, and that an
// accepted file yields a configuration the NameServer accepts.
func FuzzParseConf(f *testing.F) {
	f.Add("listenPort=9876\n")                                      // the common file
	f.Add("listenAddr=[::1]:1\nlistenPort=2\n")                     // both address keys
	f.Add("scanNotActiveBrokerInterval=1\norderMessageEnable=TRUE") // the other keys
	f.Add("# c\n! c\n=x\n:y\nk\n")                                  // malformed lines
	f.Fuzz(func(t *testing.T, text string) {
		cfg := namesrv.Config{ListenAddr: "0.0.0.0:9876", ScanInterval: 10 * time.Second}
		if _, err := parseConf(strings.NewReader(text), "conf", &cfg); err != nil {
			return
		}
		if _, err := namesrv.New(cfg); err != nil {
			t.Fatalf("accepted file gives a config New refuses: %v\n%q", err, text)
		}
	})
}
