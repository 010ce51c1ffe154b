package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/surge-mq/surge/mq/protocol"
	"github.com/surge-mq/surge/mq/store"
)

// Config configures a Broker. A zero field means the default, which is
// RocketMQ 4.9's where RocketMQ has one; broker.conf keys are given in
// parentheses (see conffile.go for the key table).
type Config struct {
	// ClusterName (brokerClusterName). Default "DefaultCluster".
	ClusterName string
	// BrokerName (brokerName). Default "broker-a".
	BrokerName string
	// BrokerID (brokerId): 0 is the master. Default 0.
	BrokerID int64
	// ListenAddr is the address to listen on. Default ":" + ListenPort.
	ListenAddr string
	// ListenPort (listenPort). Default 10911.
	ListenPort int
	// BrokerIP (brokerIP1) is the address advertised to clients through the
	// NameServer and written into every stored message. Default: the first
	// non-loopback IPv4 address of the host.
	BrokerIP string
	// NamesrvAddrs (namesrvAddr, "a:9876;b:9876") lists the NameServers to
	// register with. Empty: no registration (a standalone broker).
	NamesrvAddrs []string
	// Store configures the message store (storePathRootDir,
	// storePathCommitLog, flushDiskType, mappedFileSizeCommitLog,
	// maxMessageSize, deleteWhen, fileReservedTime, ...).
	Store store.Config
	// BrokerRole (brokerRole): ASYNC_MASTER, SYNC_MASTER or SLAVE. Only
	// masters are supported for now; kept so that RocketMQ configs load.
	BrokerRole string
	// BrokerPermission (brokerPermission): 6 = read and write.
	BrokerPermission int
	// AutoCreateTopicEnable (autoCreateTopicEnable): create unknown topics
	// on first send through the default topic TBW102. Default true.
	AutoCreateTopicEnable *bool
	// AutoCreateSubscriptionGroup (autoCreateSubscriptionGroup). Default true.
	AutoCreateSubscriptionGroup *bool
	// DefaultTopicQueueNums (defaultTopicQueueNums): queues of TBW102, the
	// upper bound for auto-created topics. Default 8.
	DefaultTopicQueueNums int
	// MessageDelayLevel (messageDelayLevel): the delay of each level.
	// Default "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h".
	MessageDelayLevel []time.Duration
	// MaxReconsumeTimes is the retries before a message goes to the DLQ
	// when the client does not say (retryMaxTimes of a subscription group).
	// Default 16.
	MaxReconsumeTimes int
	// TransactionTimeout (transactionTimeOut): a half message is checked
	// once it is this old. Default 6s.
	TransactionTimeout time.Duration
	// TransactionCheckInterval (transactionCheckInterval). Default 60s.
	TransactionCheckInterval time.Duration
	// TransactionCheckMax (transactionCheckMax): checks before a half
	// message is given up. Default 15.
	TransactionCheckMax int
	// RegisterInterval (registerNameServerPeriod). Default 30s.
	RegisterInterval time.Duration
	// LongPollingEnable (longPollingEnable). Default true.
	LongPollingEnable *bool
	// ShortPollingTime (shortPollingTimeMills): hold time when long
	// polling is off. Default 1s.
	ShortPollingTime time.Duration
	// ClientExpiry drops a client silent this long. Default 120s.
	ClientExpiry time.Duration
	// LockLease is how long a queue lock of an orderly consumer lives
	// without renewal (rocketmq.broker.rebalance.lockMaxLiveTime). Default 60s.
	LockLease time.Duration
	// OffsetFlushInterval (flushConsumerOffsetInterval). Default 5s.
	OffsetFlushInterval time.Duration
	// Logger receives the broker's logs. Default: discard.
	Logger *slog.Logger
}

// DefaultDelayLevels is RocketMQ's messageDelayLevel.
const DefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// ParseDelayLevels parses a messageDelayLevel value: durations with unit s,
// m, h or d separated by spaces.
func ParseDelayLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[f[len(f)-1]]
		n, err := strconv.Atoi(f[:len(f)-1])
		if unit == 0 || err != nil || n <= 0 {
			return nil, fmt.Errorf("messageDelayLevel %q: %q is not a duration like 5s, 1m, 2h or 1d", s, f)
		}
		out = append(out, time.Duration(n)*unit)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("messageDelayLevel %q: no levels", s)
	}
	return out, nil
}

func boolPtr(b bool) *bool { return &b }

func (c *Config) setDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.ClusterName, "DefaultCluster")
	def(&c.BrokerName, "broker-a")
	def(&c.BrokerRole, "ASYNC_MASTER")
	if c.ListenPort == 0 {
		c.ListenPort = 10911
	}
	def(&c.ListenAddr, ":"+strconv.Itoa(c.ListenPort))
	if c.BrokerPermission == 0 {
		c.BrokerPermission = int(protocol.PermRead | protocol.PermWrite)
	}
	if c.AutoCreateTopicEnable == nil {
		c.AutoCreateTopicEnable = boolPtr(true)
	}
	if c.AutoCreateSubscriptionGroup == nil {
		c.AutoCreateSubscriptionGroup = boolPtr(true)
	}
	if c.LongPollingEnable == nil {
		c.LongPollingEnable = boolPtr(true)
	}
	if c.DefaultTopicQueueNums == 0 {
		c.DefaultTopicQueueNums = 8
	}
	if c.MessageDelayLevel == nil {
		c.MessageDelayLevel, _ = ParseDelayLevels(DefaultDelayLevels)
	}
	if c.MaxReconsumeTimes == 0 {
		c.MaxReconsumeTimes = 16
	}
	durDef := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	durDef(&c.TransactionTimeout, 6*time.Second)
	durDef(&c.TransactionCheckInterval, 60*time.Second)
	if c.TransactionCheckMax == 0 {
		c.TransactionCheckMax = 15
	}
	durDef(&c.RegisterInterval, 30*time.Second)
	durDef(&c.ShortPollingTime, time.Second)
	durDef(&c.ClientExpiry, 120*time.Second)
	durDef(&c.LockLease, 60*time.Second)
	durDef(&c.OffsetFlushInterval, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Store.Logger == nil {
		c.Store.Logger = c.Logger
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.BrokerID != 0 {
		errs = append(errs, fmt.Errorf("brokerId %d: only masters (brokerId=0) are supported in this version", c.BrokerID))
	}
	switch c.BrokerRole {
	case "ASYNC_MASTER", "SYNC_MASTER":
	case "SLAVE":
		errs = append(errs, errors.New("brokerRole SLAVE: replication is not supported in this version; use ASYNC_MASTER"))
	default:
		errs = append(errs, fmt.Errorf("brokerRole %q: want ASYNC_MASTER, SYNC_MASTER or SLAVE", c.BrokerRole))
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		errs = append(errs, fmt.Errorf("listenPort %d: not a port", c.ListenPort))
	}
	if len(c.MessageDelayLevel) == 0 {
		errs = append(errs, errors.New("messageDelayLevel: no levels"))
	}
	c.Store.SetDefaults()
	if err := c.Store.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckConfig validates a configuration as the broker would at start, with
// defaults filled in.
func CheckConfig(cfg Config) error {
	cfg.setDefaults()
	if cfg.Store.Dir == "" {
		return errors.New("storePathRootDir: required")
	}
	return cfg.Validate()
}
