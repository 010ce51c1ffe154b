package client

import (
	"errors"
	"fmt"

	"github.com/surge-mq/surge/mq/protocol"
)

// Errors returned by the client. Compare with errors.Is.
var (
	ErrClosed          = errors.New("client: closed")
	ErrTopicNotFound   = errors.New("client: topic not found")
	ErrNoRoute         = errors.New("client: no writable queue for the topic")
	ErrBrokerBusy      = errors.New("client: broker busy")
	ErrMessageTooLarge = errors.New("client: message refused as too large or malformed")
	ErrNoPermission    = errors.New("client: no permission")
	ErrServiceNotAvail = errors.New("client: service not available")
	ErrBroker          = errors.New("client: broker error")
)

// BrokerError is an error response from a broker or NameServer; errors.Is
// matches it with the sentinel of its code.
type BrokerError struct {
	Addr   string
	Code   int16
	Remark string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("client: %s answered code %d: %s", e.Addr, e.Code, e.Remark)
}

// Is maps response codes to the sentinels.
func (e *BrokerError) Is(target error) bool {
	switch target {
	case ErrBroker:
		return true
	case ErrTopicNotFound:
		return e.Code == protocol.TopicNotExist
	case ErrBrokerBusy:
		return e.Code == protocol.SystemBusy
	case ErrMessageTooLarge:
		return e.Code == protocol.MessageIllegal
	case ErrNoPermission:
		return e.Code == protocol.NoPermission
	case ErrServiceNotAvail:
		return e.Code == protocol.ServiceNotAvailable
	}
	return false
}

// retriable reports whether another broker or queue may succeed.
func retriable(err error) bool {
	var be *BrokerError
	if !errors.As(err, &be) {
		return true // transport errors: try another broker
	}
	switch be.Code {
	case protocol.SystemError, protocol.SystemBusy, protocol.ServiceNotAvailable, protocol.NoPermission, protocol.TopicNotExist:
		return true
	}
	return false
}
