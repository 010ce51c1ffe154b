package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/surge-mq/surge/mq/protocol"
)

// Errors returned by the client. Compare with errors.Is.
var (
	// ErrClosed: the producer, consumer or admin was closed.
	ErrClosed = errors.New("client: closed")
	// ErrTimeout: a request got no answer in time (the send timeout, the
	// caller's deadline, or a connection that could not be made in time).
	// errors.Is(err, context.DeadlineExceeded) holds for it too.
	ErrTimeout = timeoutError{}
	// ErrNotStarted: a consumer was used before Start.
	ErrNotStarted = errors.New("client: consumer not started")
	// ErrNotAssigned: the queue is not one the pull consumer consumes.
	ErrNotAssigned = errors.New("client: queue not assigned to this consumer")
	// ErrMessageNotFound: no message at that ID, key or offset.
	ErrMessageNotFound = errors.New("client: message not found")
	ErrTopicNotFound   = errors.New("client: topic not found")
	ErrNoRoute         = errors.New("client: no writable queue for the topic")
	ErrBrokerBusy      = errors.New("client: broker busy")
	ErrMessageTooLarge = errors.New("client: message refused as too large or malformed")
	ErrNoPermission    = errors.New("client: no permission")
	ErrServiceNotAvail = errors.New("client: service not available")
	ErrBroker          = errors.New("client: broker error")
)

type timeoutError struct{}

func (timeoutError) Error() string        { return "client: timeout" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// timeout makes a deadline error match ErrTimeout as well.
func timeout(err error) error {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTimeout, err)
}

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
	case ErrMessageNotFound:
		return e.Code == protocol.QueryNotFound
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
