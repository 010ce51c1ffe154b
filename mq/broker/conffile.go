package broker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/store"
)

// broker.conf is a Java properties file with RocketMQ's key names, so a
// config copied from RocketMQ's docs starts a Surge broker. Each supported
// key maps to a Config field in confKeys; keys RocketMQ has that Surge does
// not need are accepted with a warning; anything else is reported as
// unknown (a warning too, naming the line, since it is usually a typo).

// confKey maps one broker.conf key to a Config field.
type confKey struct {
	name string
	set  func(c *Config, v string) error
	get  func(c *Config) string
}

func strKey(name string, f func(*Config) *string) confKey {
	return confKey{name,
		func(c *Config, v string) error { *f(c) = v; return nil },
		func(c *Config) string { return *f(c) }}
}

func intKey(name string, f func(*Config) *int) confKey {
	return confKey{name,
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*f(c) = n
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*f(c)) }}
}

func int64Key(name string, f func(*Config) *int64) confKey {
	return confKey{name,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer, got %q", v)
			}
			*f(c) = n
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(*f(c), 10) }}
}

func boolKey(name string, f func(*Config) **bool) confKey {
	return confKey{name,
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*f(c) = &b
			return nil
		},
		func(c *Config) string {
			if p := *f(c); p != nil {
				return strconv.FormatBool(*p)
			}
			return ""
		}}
}

// durKey reads a duration given in unit (RocketMQ writes milliseconds or
// hours as plain numbers).
func durKey(name string, unit time.Duration, f func(*Config) *time.Duration) confKey {
	return confKey{name,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("want a non-negative integer (%s), got %q", unitName(unit), v)
			}
			*f(c) = time.Duration(n) * unit
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(int64(*f(c)/unit), 10) }}
}

func unitName(u time.Duration) string {
	if u == time.Hour {
		return "hours"
	}
	return "milliseconds"
}

var confKeys = []confKey{
	strKey("brokerClusterName", func(c *Config) *string { return &c.ClusterName }),
	strKey("brokerName", func(c *Config) *string { return &c.BrokerName }),
	int64Key("brokerId", func(c *Config) *int64 { return &c.BrokerID }),
	intKey("listenPort", func(c *Config) *int { return &c.ListenPort }),
	strKey("brokerIP1", func(c *Config) *string { return &c.BrokerIP }),
	{"namesrvAddr",
		func(c *Config, v string) error { c.NamesrvAddrs = SplitNamesrvAddr(v); return nil },
		func(c *Config) string { return strings.Join(c.NamesrvAddrs, ";") }},
	strKey("storePathRootDir", func(c *Config) *string { return &c.Store.Dir }),
	strKey("storePathCommitLog", func(c *Config) *string { return &c.Store.CommitLogDir }),
	{"flushDiskType",
		func(c *Config, v string) error {
			t, err := store.ParseFlushType(v)
			c.Store.FlushType = t
			return err
		},
		func(c *Config) string { return c.Store.FlushType.String() }},
	strKey("brokerRole", func(c *Config) *string { return &c.BrokerRole }),
	intKey("brokerPermission", func(c *Config) *int { return &c.BrokerPermission }),
	boolKey("autoCreateTopicEnable", func(c *Config) **bool { return &c.AutoCreateTopicEnable }),
	boolKey("autoCreateSubscriptionGroup", func(c *Config) **bool { return &c.AutoCreateSubscriptionGroup }),
	intKey("defaultTopicQueueNums", func(c *Config) *int { return &c.DefaultTopicQueueNums }),
	{"deleteWhen",
		func(c *Config, v string) error {
			var hours []int
			for _, f := range strings.Split(v, ";") {
				h, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || h < 0 || h > 23 {
					return fmt.Errorf("want hours 00-23 separated by ';', got %q", v)
				}
				hours = append(hours, h)
			}
			c.Store.DeleteWhen = hours
			return nil
		},
		func(c *Config) string {
			var s []string
			for _, h := range c.Store.DeleteWhen {
				s = append(s, fmt.Sprintf("%02d", h))
			}
			return strings.Join(s, ";")
		}},
	durKey("fileReservedTime", time.Hour, func(c *Config) *time.Duration { return &c.Store.FileReservedTime }),
	int64Key("mappedFileSizeCommitLog", func(c *Config) *int64 { return &c.Store.SegmentSize }),
	{"mappedFileSizeConsumeQueue",
		func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 20 {
				return fmt.Errorf("want a size in bytes of at least 20, got %q", v)
			}
			c.Store.ConsumeQueueEntries = n / 20
			return nil
		},
		func(c *Config) string { return strconv.Itoa(c.Store.ConsumeQueueEntries * 20) }},
	intKey("maxMessageSize", func(c *Config) *int { return &c.Store.MaxMessageSize }),
	{"messageDelayLevel",
		func(c *Config, v string) error {
			levels, err := ParseDelayLevels(v)
			c.MessageDelayLevel = levels
			return err
		},
		func(c *Config) string {
			var s []string
			for _, d := range c.MessageDelayLevel {
				s = append(s, formatDelay(d))
			}
			return strings.Join(s, " ")
		}},
	durKey("flushIntervalCommitLog", time.Millisecond, func(c *Config) *time.Duration { return &c.Store.FlushInterval }),
	durKey("flushIntervalConsumeQueue", time.Millisecond, func(c *Config) *time.Duration { return &c.Store.ConsumeQueueFlushInterval }),
	durKey("syncFlushTimeout", time.Millisecond, func(c *Config) *time.Duration { return &c.Store.SyncFlushTimeout }),
	durKey("osPageCacheBusyTimeOutMills", time.Millisecond, func(c *Config) *time.Duration { return &c.Store.BusyTimeout }),
	durKey("cleanResourceInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.Store.CleanInterval }),
	intKey("diskMaxUsedSpaceRatio", func(c *Config) *int { return &c.Store.DiskMaxUsedSpaceRatio }),
	intKey("diskSpaceCleanForciblyRatio", func(c *Config) *int { return &c.Store.DiskForceCleanRatio }),
	intKey("diskSpaceWarningLevelRatio", func(c *Config) *int { return &c.Store.DiskHardWatermark }),
	intKey("maxHashSlotNum", func(c *Config) *int { return &c.Store.IndexSlots }),
	intKey("maxIndexNum", func(c *Config) *int { return &c.Store.IndexEntries }),
	durKey("transactionTimeOut", time.Millisecond, func(c *Config) *time.Duration { return &c.TransactionTimeout }),
	durKey("transactionCheckInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.TransactionCheckInterval }),
	intKey("transactionCheckMax", func(c *Config) *int { return &c.TransactionCheckMax }),
	durKey("registerNameServerPeriod", time.Millisecond, func(c *Config) *time.Duration { return &c.RegisterInterval }),
	boolKey("longPollingEnable", func(c *Config) **bool { return &c.LongPollingEnable }),
	durKey("shortPollingTimeMills", time.Millisecond, func(c *Config) *time.Duration { return &c.ShortPollingTime }),
	durKey("flushConsumerOffsetInterval", time.Millisecond, func(c *Config) *time.Duration { return &c.OffsetFlushInterval }),
	durKey("channelExpiredTimeout", time.Millisecond, func(c *Config) *time.Duration { return &c.ClientExpiry }),
	intKey("maxReconsumeTimes", func(c *Config) *int { return &c.MaxReconsumeTimes }),
}

// ignoredKeys are RocketMQ settings that do not apply to Surge (thread
// pools, JVM memory, features not implemented); they are accepted with a
// warning so that RocketMQ's sample configs load.
var ignoredKeys = map[string]string{
	"brokerIP2": "no slaves", "haListenPort": "no replication", "haMasterAddress": "no replication",
	"sendMessageThreadPoolNums": "goroutines, not pools", "pullMessageThreadPoolNums": "goroutines, not pools",
	"queryMessageThreadPoolNums": "goroutines, not pools", "adminBrokerThreadPoolNums": "goroutines, not pools",
	"clientManageThreadPoolNums": "goroutines, not pools", "consumerManageThreadPoolNums": "goroutines, not pools",
	"useReentrantLockWhenPutMessage": "one put lock", "waitTimeMillsInSendQueue": "no send queue",
	"transientStorePoolEnable": "no transient pool", "warmMapedFileEnable": "segments are always warmed",
	"slaveReadEnable": "no slaves", "traceTopicEnable": "the trace topic always exists",
	"aclEnable": "no ACL yet", "enablePropertyFilter": "SQL92 is not supported",
	"rocketmqHome": "not needed", "storePathIndex": "index lives under storePathRootDir",
	"storePathConsumeQueue": "consume queues live under storePathRootDir", "fetchNamesrvAddrByAddressServer": "no address server",
	"enableDLegerCommitLog": "no DLedger", "dLegerGroup": "no DLedger", "dLegerPeers": "no DLedger", "dLegerSelfId": "no DLedger",
	"sendThreadPoolQueueCapacity": "no send queue", "pullThreadPoolQueueCapacity": "no pull queue",
	"messageIndexEnable": "the index is always on", "duplicationEnable": "not supported",
}

func formatDelay(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// SplitNamesrvAddr splits a namesrvAddr value ("a:9876;b:9876").
func SplitNamesrvAddr(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ConfWarning is a broker.conf line that was accepted but deserves a look.
type ConfWarning struct {
	File string
	Line int
	Msg  string
}

func (w ConfWarning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// LoadConfigFile reads a broker.conf into cfg. It returns the warnings
// (unknown or ignored keys) and an error listing every malformed line.
func LoadConfigFile(path string, cfg *Config) ([]ConfWarning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path, cfg)
}

// ParseConfig reads broker.conf text from r; name is used in messages.
func ParseConfig(r io.Reader, name string, cfg *Config) ([]ConfWarning, error) {
	byName := make(map[string]confKey, len(confKeys))
	for _, k := range confKeys {
		byName[k.name] = k
	}
	var warns []ConfWarning
	var errs []error
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
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
		k, ok := byName[key]
		if !ok {
			if why, ignored := ignoredKeys[key]; ignored {
				warns = append(warns, ConfWarning{name, line, fmt.Sprintf("%s is ignored by Surge (%s)", key, why)})
			} else {
				warns = append(warns, ConfWarning{name, line, fmt.Sprintf("unknown key %s (typo? see docs/broker.md for the supported keys)", key)})
			}
			continue
		}
		if err := k.set(cfg, val); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", name, line, key, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return warns, errors.Join(errs...)
}

// WriteConfig prints the effective configuration as broker.conf lines,
// defaults filled in, keys sorted.
func WriteConfig(w io.Writer, cfg Config) error {
	cfg.setDefaults()
	cfg.Store.SetDefaults()
	lines := make([]string, 0, len(confKeys))
	for _, k := range confKeys {
		lines = append(lines, k.name+"="+k.get(&cfg))
	}
	sort.Strings(lines)
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}
