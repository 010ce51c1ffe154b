// Package remoting carries Apache RocketMQ 4.x's remoting protocol: frames,
// request/response matching by opaque, a TCP server and a client.
//
// # Frames
//
//	4 bytes  total length L (not counting itself) = 4 + H + B
//	4 bytes  serialize type << 24 | header length H
//	H bytes  header: JSON (type 0) or ROCKETMQ binary (type 1)
//	B bytes  body
//
// Integers are big-endian. Responses answer in the header form of their
// request.
//
// # Concurrency
//
// A Conn has one reader goroutine, which dispatches each request to the
// handler in a goroutine of its own (long-polled pulls block for seconds
// while other requests flow on the same connection), and one writer
// goroutine, which drains a queue of encoded frames into a buffered writer
// and flushes when the queue is empty, so frames queued together leave in
// one write.
package remoting

import (
	"errors"
	"strconv"
)

// DefaultMaxFrameSize is the largest frame accepted: a longer one closes the
// connection (RocketMQ's com.rocketmq.remoting.frameMaxLength).
const DefaultMaxFrameSize = 16 << 20

// SerializeType is the header form of a frame.
type SerializeType uint8

// Header forms.
const (
	JSON     SerializeType = 0
	RocketMQ SerializeType = 1
)

// Flag bits of a command.
const (
	FlagResponse = 1 << 0
	FlagOneway   = 1 << 1
)

// Language and version we announce: Go, and RocketMQ 4.9.7's version
// ordinal (clients check it before using newer features).
const (
	Language = "GO"
	Version  = 407
)

// Errors of the remoting layer. Compare with errors.Is.
var (
	ErrFrameTooLarge = errors.New("remoting: frame larger than the maximum frame size")
	ErrBadFrame      = errors.New("remoting: malformed frame")
	ErrClosed        = errors.New("remoting: connection closed")
	ErrServerClosed  = errors.New("remoting: server closed")
)

// Command is a request or a response.
type Command struct {
	Code      int16
	Language  string
	Version   int16
	Opaque    int32
	Flag      int32
	Remark    string
	ExtFields map[string]string
	Body      []byte
	// Serialize is the header form; responses use their request's.
	Serialize SerializeType
}

// NewRequest returns a request command.
func NewRequest(code int16, ext map[string]string, body []byte) *Command {
	return &Command{Code: code, Language: Language, Version: Version, ExtFields: ext, Body: body}
}

// NewResponse returns the response to req: same opaque and header form.
func NewResponse(req *Command, code int16, remark string) *Command {
	return &Command{Code: code, Language: Language, Version: Version, Opaque: req.Opaque, Flag: FlagResponse, Remark: remark, Serialize: req.Serialize}
}

// IsResponse reports whether c is a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the sender of request c expects no response.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// Ext returns one ext field, "" if absent.
func (c *Command) Ext(name string) string { return c.ExtFields[name] }

func (c *Command) String() string {
	kind := "request"
	if c.IsResponse() {
		kind = "response"
	}
	return kind + " code=" + strconv.Itoa(int(c.Code)) + " opaque=" + strconv.Itoa(int(c.Opaque))
}
