package remoting

import (
	"errors"
	"strconv"
)

// DefaultMaxFrameSize is the largest frame read or written by default: the
// value of a frame's length field above it closes the connection. It is
// Java's default com.rocketmq.remoting.frameMaxLength.
const DefaultMaxFrameSize = 16 << 20

// SerializeType is the form of a frame's header.
type SerializeType uint8

// Header forms (rocketmq-wire-protocol.md, sections 1.3 and 1.4).
const (
	JSON     SerializeType = 0
	RocketMQ SerializeType = 1 // the ROCKETMQ binary form
)

func (t SerializeType) String() string {
	switch t {
	case JSON:
		return "JSON"
	case RocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(t)) + ")"
}

// Flag bits of a command.
const (
	FlagResponse = 1 << 0 // the command is a response
	FlagOneway   = 1 << 1 // the request expects no response
)

// Language and Version are what NewRequest and NewResponse announce: Go,
// and the ordinal of RocketMQ V4_9_7. Clients compare the version before
// they use newer features (a heartbeat answered with a version below 232
// stops Java clients from using SQL92 filters).
const (
	Language = "GO"
	Version  = 407
)

// Errors of the remoting layer. Compare with errors.Is: the errors returned
// wrap them with what was being done.
var (
	ErrFrameTooLarge = errors.New("remoting: frame larger than the maximum frame size")
	ErrBadFrame      = errors.New("remoting: malformed frame")
	ErrClosed        = errors.New("remoting: connection closed")
	ErrServerClosed  = errors.New("remoting: server closed")
)

// Command is one request or response.
//
// A Command handed to Invoke, InvokeOneway or WriteCommand is encoded before
// the call returns; the caller may reuse it and its Body afterwards. A
// decoded Command's Body is the tail of the buffer its frame was read into,
// which belongs to the Command.
type Command struct {
	Code     int16  // request code, or response code
	Language string // sender's language: "GO", "JAVA", ...; informational
	Version  int16  // sender's version ordinal: the Go client sends 317, Java 4.9.7 407
	Opaque   int32  // request id; a response carries its request's
	Flag     int32  // FlagResponse, FlagOneway
	Remark   string // mostly error text in responses
	// ExtFields holds the per-command header fields. On the wire every
	// value is a string, numbers and booleans included.
	ExtFields map[string]string
	Body      []byte
	// Serialize is the header form; a response uses its request's.
	Serialize SerializeType
}

// NewRequest returns a request with the given code, ext fields and body.
// The opaque is assigned when it is sent.
func NewRequest(code int16, ext map[string]string, body []byte) *Command {
	return &Command{Code: code, Language: Language, Version: Version, ExtFields: ext, Body: body}
}

// NewResponse returns the response to req: it has req's opaque and header
// form, and FlagResponse set.
func NewResponse(req *Command, code int16, remark string) *Command {
	return &Command{
		Code:      code,
		Language:  Language,
		Version:   Version,
		Opaque:    req.Opaque,
		Flag:      FlagResponse,
		Remark:    remark,
		Serialize: req.Serialize,
	}
}

// IsResponse reports whether c is a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether c is a request whose sender expects no response.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// Ext returns the ext field name, or "" if it is absent.
func (c *Command) Ext(name string) string { return c.ExtFields[name] }

// String describes c briefly for logs and test failures.
func (c *Command) String() string {
	kind := "request"
	if c.IsResponse() {
		kind = "response"
	}
	s := kind + " code=" + strconv.Itoa(int(c.Code)) + " opaque=" + strconv.Itoa(int(c.Opaque)) +
		" flag=" + strconv.Itoa(int(c.Flag)) + " ext=" + strconv.Itoa(len(c.ExtFields)) +
		" body=" + strconv.Itoa(len(c.Body))
	if c.Remark != "" {
		s += " remark=" + strconv.Quote(c.Remark)
	}
	return s
}
