package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
	"testing/iotest"
)

// FuzzDecodeFrame checks that no frame makes DecodeFrame panic, that what
// decodes survives encoding and decoding again unchanged, and that
// readFrame, fed the wire bytes a few at a time, returns the same frame.
//
//	go test -run='^$' -fuzz=FuzzDecodeFrame -fuzztime=60s ./remoting/
func FuzzDecodeFrame(f *testing.F) {
	// The frames of rocketmq-wire-protocol.md: 9.4 in both header forms
	// and 9.5 (Java key order, serializeTypeCurrentRPC, a body).
	f.Add(parseDump(f, dumpRouteRequestJSON)[4:])
	f.Add(parseDump(f, dumpRouteRequestBinary)[4:])
	f.Add(routeResponseFrame(f)[4:])
	// Every command of TestCodecRoundTrip (send request and response, pull
	// response with a body, oneway, extremes, negative numbers, empty keys,
	// every kind of escape), in both header forms.
	for _, tc := range codecCases {
		for _, st := range []SerializeType{JSON, RocketMQ} {
			c := tc.cmd
			c.Serialize = st
			frame, err := AppendFrame(nil, &c)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame[4:])
		}
	}
	// Every frame TestDecodeFrameErrors refuses: each malformation is a
	// starting point for others.
	for _, tc := range badFrames {
		f.Add(tc.frame)
	}
	// Headers only a hand-written parser has trouble with: escaped keys,
	// surrogate pairs and lone surrogates, invalid UTF-8, coerced and null
	// ext values, unknown nested keys, whitespace everywhere.
	f.Add(jsonFrame(`{"\u0063ode":5,"remark":"\ud83d\ude00\ud800x\udc00","extFields":{"n":-1.5e+3,"t":true,"z":null}}`))
	f.Add(jsonFrame("{\"remark\":\"\xff\xc3(\",\"a\":[1,[{}],{\"b\":[null,\"\\\"]\"]}]}"))
	f.Add(jsonFrame(" \r\n\t{ \"code\" : 12 ,\n\"extFields\" : { \"a\" : \"b\" } } \n"))
	// A binary header with an unknown language byte and an empty ext entry.
	f.Add(binaryFrame(0, 1, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0))

	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := DecodeFrame(frame)
		if err == nil {
			again, err := AppendFrame(nil, c)
			if err != nil {
				t.Fatalf("decoded %+v but cannot encode it: %v", c, err)
			}
			c2, err := DecodeFrame(again[4:])
			if err != nil {
				t.Fatalf("re-encoded frame does not decode: %v\n%q", err, again)
			}
			if !equalCommand(c2, c) {
				t.Fatalf("round trip changed the command:\n %+v\n %+v", c, c2)
			}
		}

		wire := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		wire = append(wire, frame...)
		r := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(wire)), 16)
		got, err := readFrame(r, DefaultMaxFrameSize)
		switch {
		case len(frame) < 4:
			if err == nil {
				t.Fatalf("readFrame accepted a %d-byte frame", len(frame))
			}
		case err != nil || !bytes.Equal(got, frame):
			t.Fatalf("readFrame: %q, %v", got, err)
		}
	})
}
