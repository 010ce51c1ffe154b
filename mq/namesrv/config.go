package namesrv

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Defaults, RocketMQ's.
const (
	DefaultListenAddr   = "0.0.0.0:9876"
	DefaultBrokerExpiry = 120 * time.Second
	DefaultScanInterval = 10 * time.Second
)

// Config configures a Server. The zero value is a valid configuration: a
// zero field takes its default.
type Config struct {
	// ListenAddr is where ListenAndServe listens, "host:port". Default
	// "0.0.0.0:9876".
	ListenAddr string
	// BrokerExpiry drops a broker address whose last registration is older
	// than this. Default 120s (Java's BROKER_CHANNEL_EXPIRED_TIME). Brokers
	// register every 30 s.
	BrokerExpiry time.Duration
	// ScanInterval is how often silent brokers are looked for
	// (scanNotActiveBrokerInterval). Default 10s.
	ScanInterval time.Duration
	// OrderMessageEnable adds the ORDER_TOPIC_CONFIG KV entry of a topic to
	// its route as orderTopicConf, as Java does when orderMessageEnable is
	// set. Default false. Only Java clients read it.
	OrderMessageEnable bool
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock used to stamp registrations and judge expiry.
	// Default time.Now. Tests inject a fake one.
	Now func() time.Time
}

// withDefaults returns c with zero fields set to their defaults, or an
// error listing every field that cannot work.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	} else if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		errs = append(errs, fmt.Errorf("namesrv: ListenAddr %q: %w", c.ListenAddr, err))
	}
	switch {
	case c.BrokerExpiry == 0:
		c.BrokerExpiry = DefaultBrokerExpiry
	case c.BrokerExpiry < 0:
		errs = append(errs, fmt.Errorf("namesrv: BrokerExpiry %v is negative", c.BrokerExpiry))
	}
	switch {
	case c.ScanInterval == 0:
		c.ScanInterval = DefaultScanInterval
	case c.ScanInterval < 0:
		errs = append(errs, fmt.Errorf("namesrv: ScanInterval %v is negative", c.ScanInterval))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, errors.Join(errs...)
}
