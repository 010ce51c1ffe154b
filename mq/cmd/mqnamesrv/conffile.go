package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/namesrv"
)

// namesrv.conf is a Java properties file with RocketMQ's NameServer keys
// (plus listenAddr, ours), so a RocketMQ namesrv.conf starts a Surge
// NameServer. Supported keys are in confKeys; keys RocketMQ has that Surge
// does not need are accepted with a warning (ignoredKeys); any other key
// is a warning naming its line, since it is usually a typo. A malformed
// value is an error naming its line; every problem is reported at once.

// fileConf is what a namesrv.conf sets.
type fileConf struct {
	cfg namesrv.Config
	// port is listenPort when given: it replaces the port of the listen
	// address, whichever line comes first.
	port *int
}

// confKey is one supported namesrv.conf key.
type confKey struct {
	name string
	set  func(fc *fileConf, v string) error
}

var confKeys = []confKey{
	{"listenPort", func(fc *fileConf, v string) error {
		p, err := parsePort(v)
		if err != nil {
			return err
		}
		fc.port = &p
		return nil
	}},
	{"listenAddr", func(fc *fileConf, v string) error {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("want host:port, got %q", v)
		}
		if _, err := parsePort(port); err != nil {
			return err
		}
		fc.cfg.ListenAddr = net.JoinHostPort(host, port)
		return nil
	}},
	{"scanNotActiveBrokerInterval", func(fc *fileConf, v string) error {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms <= 0 || ms > int64(24*time.Hour/time.Millisecond) {
			return fmt.Errorf("want a positive number of milliseconds (at most a day), got %q", v)
		}
		fc.cfg.ScanInterval = time.Duration(ms) * time.Millisecond
		return nil
	}},
	{"orderMessageEnable", func(fc *fileConf, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		fc.cfg.OrderMessageEnable = b
		return nil
	}},
}

func parsePort(v string) (int, error) {
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("want a port number 0-65535, got %q", v)
	}
	return p, nil
}

// ignoredKeys are RocketMQ NameServer settings (NamesrvConfig and
// NettyServerConfig, 4.9 and 5.x) that do not apply to Surge, with why.
var ignoredKeys = map[string]string{
	"rocketmqHome":                         "not needed",
	"kvConfigPath":                         "KV settings are kept in memory",
	"configStorePath":                      "the configuration is not persisted",
	"productEnvName":                       "not needed",
	"clusterTest":                          "not supported",
	"serverWorkerThreads":                  "goroutines, not thread pools",
	"serverCallbackExecutorThreads":        "goroutines, not thread pools",
	"serverSelectorThreads":                "goroutines, not thread pools",
	"defaultThreadPoolNums":                "goroutines, not thread pools",
	"clientRequestThreadPoolNums":          "goroutines, not thread pools",
	"defaultThreadPoolQueueCapacity":       "goroutines, not thread pools",
	"clientRequestThreadPoolQueueCapacity": "goroutines, not thread pools",
	"unRegisterBrokerQueueCapacity":        "unregistration is synchronous",
	"serverOnewaySemaphoreValue":           "no semaphores",
	"serverAsyncSemaphoreValue":            "no semaphores",
	"serverChannelMaxIdleTimeSeconds":      "idle connections close after max(120 s, the broker expiry)",
	"serverSocketSndBufSize":               "the OS default is used",
	"serverSocketRcvBufSize":               "the OS default is used",
	"serverSocketBacklog":                  "the OS default is used",
	"writeBufferHighWaterMark":             "not needed",
	"writeBufferLowWaterMark":              "not needed",
	"serverPooledByteBufAllocatorEnable":   "not needed",
	"useEpollNativeSelector":               "not needed",
	"supportActingMaster":                  "no controller mode",
	"enableControllerInNamesrv":            "no controller mode",
	"notifyMinBrokerIdChanged":             "no controller mode",
	"enableAllTopicList":                   "the topic list is always served",
	"enableTopicList":                      "the topic list is always served",
	"needWaitForService":                   "serves at once",
	"waitSecondsForService":                "serves at once",
	"returnOrderTopicConfigToBroker":       "always returned",
	"deleteTopicWithBrokerRegistration":    "always on: a master's changed table replaces its topics",
	"configBlackList":                      "the configuration cannot be changed remotely",
}

// confWarning is a namesrv.conf line that was accepted but deserves a look.
type confWarning struct {
	file string
	line int
	key  string
	msg  string // constant per kind of warning
	// detail says more (why a RocketMQ key is ignored, where a repeated
	// key was first set); may be empty.
	detail string
}

// Warning messages.
const (
	warnIgnored = "RocketMQ config key ignored by Surge"
	warnUnknown = "unknown config key ignored (a typo?)"
	warnRepeat  = "config key set again; the later line wins"
)

func (w confWarning) at() string { return fmt.Sprintf("%s:%d", w.file, w.line) }

// loadConfFile reads a namesrv.conf onto cfg.
func loadConfFile(path string, cfg *namesrv.Config) ([]confWarning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("namesrv config: %w", err)
	}
	defer f.Close()
	return parseConf(f, path, cfg)
}

// parseConf reads namesrv.conf text from r onto cfg; name is used in
// messages. It returns the warnings and an error joining one error per
// malformed line; cfg is changed only when there is no error.
func parseConf(r io.Reader, name string, cfg *namesrv.Config) ([]confWarning, error) {
	byName := make(map[string]confKey, len(confKeys))
	for _, k := range confKeys {
		byName[k.name] = k
	}
	fc := fileConf{cfg: *cfg}
	seen := map[string]int{} // key -> first line
	var warns []confWarning
	var errs []error
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		i := strings.IndexAny(text, "=:")
		if i <= 0 {
			errs = append(errs, fmt.Errorf("%s:%d: %q is not key=value", name, line, text))
			continue
		}
		key, val := strings.TrimSpace(text[:i]), strings.TrimSpace(text[i+1:])
		if first, dup := seen[key]; dup {
			warns = append(warns, confWarning{name, line, key, warnRepeat, fmt.Sprintf("first at %s:%d", name, first)})
		} else {
			seen[key] = line
		}
		k, ok := byName[key]
		if !ok {
			if why, ignored := ignoredKeys[key]; ignored {
				warns = append(warns, confWarning{name, line, key, warnIgnored, why})
			} else {
				warns = append(warns, confWarning{name, line, key, warnUnknown, ""})
			}
			continue
		}
		if err := k.set(&fc, val); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", name, line, key, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return warns, errors.Join(errs...)
	}
	if fc.port != nil {
		host := "0.0.0.0"
		if fc.cfg.ListenAddr != "" {
			host, _, _ = net.SplitHostPort(fc.cfg.ListenAddr)
		}
		fc.cfg.ListenAddr = net.JoinHostPort(host, strconv.Itoa(*fc.port))
	}
	*cfg = fc.cfg
	return warns, nil
}

// writeConf prints cfg as namesrv.conf lines, sorted by key.
func writeConf(w io.Writer, cfg namesrv.Config) error {
	_, err := fmt.Fprintf(w, "# broker expiry: %d ms (fixed, as in RocketMQ)\nlistenAddr=%s\norderMessageEnable=%t\nscanNotActiveBrokerInterval=%d\n",
		cfg.BrokerExpiry.Milliseconds(), cfg.ListenAddr, cfg.OrderMessageEnable, cfg.ScanInterval.Milliseconds())
	return err
}
