package client

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"

	"github.com/surge-mq/surge/mq/protocol"
)

// maxInflatedBody bounds a decompressed body, so that a small hostile
// record cannot make a consumer allocate without limit.
const maxInflatedBody = 64 << 20

// decodeMessages decodes the records of a pull or query answer and
// decompresses the bodies producers compressed (FlagCompressed). A body
// that does not inflate is left as stored, its flag still set, for the
// handler to see rather than lose.
func decodeMessages(b []byte) ([]*protocol.Message, error) {
	msgs, err := protocol.DecodeMessages(b)
	for _, m := range msgs {
		inflate(m)
	}
	return msgs, err
}

// decodeMessage is decodeMessages for a single record.
func decodeMessage(b []byte) (*protocol.Message, error) {
	m, err := protocol.DecodeMessage(b, false)
	if err != nil {
		return nil, err
	}
	inflate(m)
	return m, nil
}

func inflate(m *protocol.Message) {
	if m.SysFlag&protocol.FlagCompressed == 0 {
		return
	}
	if body, err := inflateBody(m.Body); err == nil {
		m.Body = body
		m.SysFlag &^= protocol.FlagCompressed
	}
}

func inflateBody(b []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("inflate body: %w", err)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxInflatedBody+1))
	if err != nil {
		return nil, fmt.Errorf("inflate body: %w", err)
	}
	if len(out) > maxInflatedBody {
		return nil, fmt.Errorf("inflate body: more than %d bytes", maxInflatedBody)
	}
	return out, nil
}
