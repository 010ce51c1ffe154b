package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BatchMessage is one message inside a SEND_BATCH_MESSAGE (320) body. The
// batch's topic, queue, sysflag and timestamps come from the request header;
// each sub-message brings only these three.
type BatchMessage struct {
	Flag int32
	// Body is the raw body; after DecodeBatch it aliases the batch body.
	Body []byte
	// Properties is the raw properties text; Go sub-messages carry no
	// UNIQ_KEY, Java's do.
	Properties string
}

// batchFixedSize is a sub-message record without body and properties:
// TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLENGTH, PROPERTIESLENGTH.
const batchFixedSize = 4 + 4 + 4 + 4 + 4 + 2

// DecodeBatch splits a SEND_BATCH_MESSAGE body into its sub-messages.
//
// Each record is
//
//	4 TOTALSIZE = 22 + bodyLength + propertiesLength
//	4 MAGICCODE (0 from both clients; ignored, as Java ignores it)
//	4 BODYCRC   (0 from both clients; ignored, the broker computes it)
//	4 FLAG
//	4 BODYLENGTH, then the body
//	2 PROPERTIESLENGTH (at most 32767: Java reads a signed short), then
//	  the properties
//
// Java's broker reads the fields in sequence and trusts them; we check that
// every record's TOTALSIZE agrees with its fields and that the records end
// exactly at the end of the body, so a malformed batch is refused whole
// (ErrTruncated, ErrBadLength or ErrPropsLength) instead of being stored as
// garbage. An empty body is ErrTruncated.
func DecodeBatch(body []byte) ([]BatchMessage, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("decode batch: %w: empty body", ErrTruncated)
	}
	be := binary.BigEndian
	var out []BatchMessage
	if len(body) >= batchFixedSize {
		// Room for as many records as the first one's size fits in the
		// body: exact for a batch of equal messages, one allocation.
		if first := int(int32(be.Uint32(body))); first >= batchFixedSize {
			out = make([]BatchMessage, 0, len(body)/first+1)
		}
	}
	for p := 0; p < len(body); {
		b := body[p:]
		if len(b) < batchFixedSize {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: %d bytes left", len(out), p, ErrTruncated, len(b))
		}
		total := int64(int32(be.Uint32(b)))
		bodyLen := int64(int32(be.Uint32(b[16:])))
		if total < batchFixedSize || bodyLen < 0 {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: total size %d, body length %d", len(out), p, ErrBadLength, total, bodyLen)
		}
		if total > int64(len(b)) {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: total size %d, %d bytes left", len(out), p, ErrTruncated, total, len(b))
		}
		if bodyLen > total-batchFixedSize {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: body length %d in a %d-byte record", len(out), p, ErrBadLength, bodyLen, total)
		}
		propPos := 20 + int(bodyLen)
		propLen := int(be.Uint16(b[propPos:]))
		if propLen > MaxPropertiesLength {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: %d", len(out), p, ErrPropsLength, propLen)
		}
		if int64(batchFixedSize)+bodyLen+int64(propLen) != total {
			return nil, fmt.Errorf("decode batch: message %d at byte %d: %w: total size %d, body %d, properties %d", len(out), p, ErrBadLength, total, bodyLen, propLen)
		}
		out = append(out, BatchMessage{
			Flag:       int32(be.Uint32(b[12:])),
			Body:       b[20:propPos:propPos],
			Properties: string(b[propPos+2 : int(total)]),
		})
		p += int(total)
	}
	return out, nil
}

// AppendBatchMessage appends m's record to dst, in the layout DecodeBatch
// reads, with MAGICCODE and BODYCRC 0 as both official clients write them.
// Properties over 32767 bytes are refused (ErrPropsLength), as is a record
// too large for its int32 TOTALSIZE.
func AppendBatchMessage(dst []byte, m BatchMessage) ([]byte, error) {
	if len(m.Properties) > MaxPropertiesLength {
		return dst, fmt.Errorf("encode batch message: %d bytes: %w", len(m.Properties), ErrPropsLength)
	}
	total := batchFixedSize + len(m.Body) + len(m.Properties)
	if total > math.MaxInt32 {
		return dst, fmt.Errorf("encode batch message: %w: %d bytes", ErrBadLength, total)
	}
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(total))
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, 0)
	dst = be.AppendUint32(dst, uint32(m.Flag))
	dst = be.AppendUint32(dst, uint32(len(m.Body)))
	dst = append(dst, m.Body...)
	dst = be.AppendUint16(dst, uint16(len(m.Properties)))
	return append(dst, m.Properties...), nil
}
