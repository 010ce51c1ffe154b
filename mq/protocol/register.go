package protocol

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxRegisterItem bounds one length-prefixed item of a compressed
// REGISTER_BROKER body: Java caps whole frames at 16 MiB, and no honest
// item comes near it.
const maxRegisterItem = 16 << 20

// DecodeRegisterBrokerBody decodes a REGISTER_BROKER body in either form,
// as the request's compressed field says.
//
// The compressed form (Java's RegisterBrokerBody.encode(true)) is a zlib
// stream of: int32 length + DataVersion JSON; int32 topic count; per topic
// int32 length + "<topic> <readQueueNums> <writeQueueNums> <perm>
// <topicFilterType>"; int32 length + JSON array of filter servers. It
// carries neither topicSysFlag nor order, which come back as zero values.
func DecodeRegisterBrokerBody(body []byte, compressed bool) (*RegisterBrokerBody, error) {
	if !compressed {
		var b RegisterBrokerBody
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("decode register broker body: %w: %v", ErrBadBody, err)
		}
		if b.TopicConfigSerializeWrapper.TopicConfigTable == nil {
			b.TopicConfigSerializeWrapper.TopicConfigTable = map[string]TopicConfig{}
		}
		return &b, nil
	}
	b, err := decodeCompressedRegister(body)
	if err != nil {
		return nil, fmt.Errorf("decode compressed register broker body: %w", err)
	}
	return b, nil
}

func decodeCompressedRegister(body []byte) (*RegisterBrokerBody, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	defer zr.Close()
	item := func(what string) ([]byte, error) {
		var n [4]byte
		if _, err := io.ReadFull(zr, n[:]); err != nil {
			return nil, fmt.Errorf("%w: %s length: %v", ErrBadBody, what, err)
		}
		size := int32(binary.BigEndian.Uint32(n[:]))
		if size < 0 || size > maxRegisterItem {
			return nil, fmt.Errorf("%w: %s length %d", ErrBadBody, what, size)
		}
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, zr, int64(size)); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadBody, what, err)
		}
		return buf.Bytes(), nil
	}
	out := &RegisterBrokerBody{
		TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{TopicConfigTable: map[string]TopicConfig{}},
	}
	raw, err := item("data version")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &out.TopicConfigSerializeWrapper.DataVersion); err != nil {
		return nil, fmt.Errorf("%w: data version: %v", ErrBadBody, err)
	}
	var n [4]byte
	if _, err := io.ReadFull(zr, n[:]); err != nil {
		return nil, fmt.Errorf("%w: topic count: %v", ErrBadBody, err)
	}
	count := int32(binary.BigEndian.Uint32(n[:]))
	if count < 0 {
		return nil, fmt.Errorf("%w: topic count %d", ErrBadBody, count)
	}
	for i := range count {
		raw, err := item("topic config")
		if err != nil {
			return nil, fmt.Errorf("topic %d: %w", i, err)
		}
		tc, err := parseTopicConfigLine(string(raw))
		if err != nil {
			return nil, fmt.Errorf("topic %d: %w", i, err)
		}
		out.TopicConfigSerializeWrapper.TopicConfigTable[tc.TopicName] = tc
	}
	raw, err = item("filter server list")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &out.FilterServerList); err != nil {
		return nil, fmt.Errorf("%w: filter server list: %v", ErrBadBody, err)
	}
	// Read on to the end of the stream so zlib verifies its checksum when
	// nothing follows the filter list; trailing data is ignored, as in Java.
	if _, err := io.Copy(io.Discard, io.LimitReader(zr, 1)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return out, nil
}

// parseTopicConfigLine parses Java's TopicConfig.encode form:
// "<topic> <read> <write> <perm> <filterType>".
func parseTopicConfigLine(s string) (TopicConfig, error) {
	f := strings.Split(s, " ")
	if len(f) != 5 {
		return TopicConfig{}, fmt.Errorf("%w: topic config %q: want 5 fields", ErrBadBody, s)
	}
	var nums [3]int32
	for i := range nums {
		n, err := strconv.ParseInt(f[i+1], 10, 32)
		if err != nil {
			return TopicConfig{}, fmt.Errorf("%w: topic config %q: %v", ErrBadBody, s, err)
		}
		nums[i] = int32(n)
	}
	if f[4] != TopicFilterSingleTag && f[4] != TopicFilterMultiTag {
		return TopicConfig{}, fmt.Errorf("%w: topic config %q: filter type %q", ErrBadBody, s, f[4])
	}
	return TopicConfig{
		TopicName:       f[0],
		ReadQueueNums:   nums[0],
		WriteQueueNums:  nums[1],
		Perm:            nums[2],
		TopicFilterType: f[4],
	}, nil
}

// MarshalCompressed renders b in the compressed form (REGISTER_BROKER with
// compressed=true), topics in name order. Java brokers use it when
// compressedRegister is set; it is smaller for brokers with many topics but
// drops topicSysFlag and order.
func (b *RegisterBrokerBody) MarshalCompressed() ([]byte, error) {
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	put := func(p []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		zw.Write(n[:]) // a bytes.Buffer behind zlib cannot fail
		zw.Write(p)
	}
	w := b.TopicConfigSerializeWrapper
	dv, err := json.Marshal(w.DataVersion)
	if err != nil {
		return nil, err
	}
	put(dv)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(w.TopicConfigTable)))
	zw.Write(n[:])
	for _, name := range slices.Sorted(maps.Keys(w.TopicConfigTable)) {
		tc := w.TopicConfigTable[name]
		if tc.TopicName != "" {
			name = tc.TopicName
		}
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			return nil, fmt.Errorf("compress register broker body: topic name %q", name)
		}
		filter := tc.TopicFilterType
		if filter == "" {
			filter = TopicFilterSingleTag
		}
		put(fmt.Appendf(nil, "%s %d %d %d %s", name, tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm, filter))
	}
	fs := b.FilterServerList
	if fs == nil {
		fs = []string{}
	}
	list, err := json.Marshal(fs)
	if err != nil {
		return nil, err
	}
	put(list)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
