package remoting

import (
	"context"
	"encoding/json"
	"net"
	"testing"
)

// sendExt is shared, read-only, by the benchmarks' requests, so that they
// measure the remoting layer rather than building maps.
var sendExt = sendMessageExt()

// sendRequest is a SEND_MESSAGE request as the Go client sends it.
func sendRequest(body []byte) *Command {
	return &Command{Code: 10, Language: "GO", Version: 317, Opaque: 123456, ExtFields: sendExt, Body: body}
}

// sendResponseExt is what the broker answers a send with.
func sendResponseExt() map[string]string {
	return map[string]string{"msgId": "7F00000100002A9F0000000000A1B2C3", "queueId": "2", "queueOffset": "4711", "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
}

// jsonHeader is encoding/json's view of a header, for comparison.
type jsonHeader struct {
	Code      int16             `json:"code"`
	Language  string            `json:"language"`
	Version   int16             `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int32             `json:"flag"`
	Remark    string            `json:"remark"`
	ExtFields map[string]string `json:"extFields"`
}

func BenchmarkEncodeJSONHeader(b *testing.B) {
	c := sendRequest(nil)
	b.Run("impl=surge", func(b *testing.B) {
		buf := appendJSONHeader(nil, c)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = appendJSONHeader(buf[:0], c)
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		h := jsonHeader{c.Code, c.Language, c.Version, c.Opaque, c.Flag, c.Remark, c.ExtFields}
		buf, _ := json.Marshal(&h)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(&h)
		}
	})
}

func BenchmarkDecodeJSONHeader(b *testing.B) {
	header := appendJSONHeader(nil, sendRequest(nil))
	b.Run("impl=surge", func(b *testing.B) {
		b.SetBytes(int64(len(header)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeJSONHeader(header); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(header)))
		b.ReportAllocs()
		for b.Loop() {
			var h jsonHeader
			if err := json.Unmarshal(header, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBinaryHeader(b *testing.B) {
	c := sendRequest(nil)
	c.Serialize = RocketMQ
	header, _ := appendBinaryHeader(nil, c)
	b.Run("op=encode", func(b *testing.B) {
		b.SetBytes(int64(len(header)))
		b.ReportAllocs()
		buf := header
		for b.Loop() {
			buf, _ = appendBinaryHeader(buf[:0], c)
		}
	})
	b.Run("op=decode", func(b *testing.B) {
		b.SetBytes(int64(len(header)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBinaryHeader(header); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRoundTrip sends SEND_MESSAGE-shaped requests over loopback to a
// server that answers them like a broker, without storing anything: the
// cost of the remoting layer itself, both ends in this process. It reports
// how many frames left per write call, both ends together.
func BenchmarkRoundTrip(b *testing.B) {
	m := NewMux(nil)
	respExt := sendResponseExt()
	m.HandleFunc(10, func(ctx context.Context, c *Conn, req *Command) *Command {
		resp := NewResponse(req, 0, "")
		resp.ExtFields = respExt
		return resp
	})
	serverConns := make(chan *Conn, 1)
	s := &Server{Handler: m, OnConnect: func(c *Conn) { serverConns <- c }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	addr := ln.Addr().String()

	// connect returns a new client and both ends of its connection.
	connect := func(b *testing.B) (*Client, [2]*Conn) {
		cl := NewClient(ClientConfig{})
		c, err := cl.Conn(context.Background(), addr)
		if err != nil {
			b.Fatal(err)
		}
		return cl, [2]*Conn{c, <-serverConns}
	}
	reportWrites := func(b *testing.B, ends [2]*Conn) {
		var frames, writes int64
		for _, c := range ends {
			f, w := c.w.stats()
			frames, writes = frames+f, writes+w
		}
		b.ReportMetric(float64(frames)/float64(writes), "frames/write")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	}

	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"4KiB", 4 << 10}} {
		body := make([]byte, size.n)
		b.Run("mode=sequential/body="+size.name, func(b *testing.B) {
			cl, ends := connect(b)
			defer cl.Close()
			ctx := context.Background()
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cl.Invoke(ctx, addr, sendRequest(body)); err != nil {
					b.Fatal(err)
				}
			}
			reportWrites(b, ends)
		})
		// 64 goroutines share one connection, as the official client
		// multiplexes one producer's sends on one connection per broker.
		b.Run("mode=parallel/body="+size.name, func(b *testing.B) {
			cl, ends := connect(b)
			defer cl.Close()
			ctx := context.Background()
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cl.Invoke(ctx, addr, sendRequest(body)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportWrites(b, ends)
		})
	}
}
