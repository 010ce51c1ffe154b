// Package remoting speaks Apache RocketMQ 4.x's remoting protocol: the frame
// codec, request/response matching by opaque, a TCP server and a client.
// Every request and every response, in both directions, is a [Command].
//
// # Frames
//
// All integers are big-endian (rocketmq-wire-protocol.md, section 1.2):
//
//	offset  size  field
//	0       4     total length L = 4 + H + B (does not count itself)
//	4       1     serialize type: 0 JSON, 1 ROCKETMQ binary
//	5       3     header length H
//	8       H     header
//	8+H     B     body, opaque bytes
//
// The JSON header is an object with the keys code, language, version,
// opaque, flag, remark and extFields, an object whose values are all JSON
// strings (the official Go client drops a header holding anything else).
// The binary header carries the same fields with fixed-width integers and
// length-prefixed strings (section 1.4). Requests are decoded in whatever
// form they come; a response is encoded in the form of its request.
//
// Flag bit 0 marks a response, bit 1 a oneway request. A response carries
// its request's opaque, which is all the requester matches it by. A request
// is answered iff flag&2 == 0: the Go client sends its "oneway" calls with
// flag 0 and ignores the answers, Java clients set the bit and expect none.
//
// A frame longer than the maximum frame size, a truncated frame, a header
// longer than its frame, an unknown serialize type or a header that does not
// decode closes the connection: after any of them the byte stream can no
// longer be trusted.
//
// # Concurrency
//
// A [Conn] is one TCP connection used in both directions: the broker sends
// requests (transaction checks, consumer-list changes) on connections its
// clients opened. Each Conn has three kinds of goroutines:
//
//   - One reader reads frames through a buffered reader; every frame gets a
//     buffer of its own, so a handler may keep a request's Body. The reader
//     decodes the header, hands a response to the Invoke waiting for its
//     opaque (an unknown opaque is dropped: its caller gave up) and starts a
//     handler goroutine for a request.
//   - Handlers run concurrently, each in its own goroutine, because some
//     block: a long-polled pull is held for up to 30 s while sends and
//     heartbeats flow on the same connection. Responses therefore leave in
//     completion order, not arrival order. A connection runs at most a fixed
//     number of handlers at once; a request beyond that is answered
//     SYSTEM_BUSY at once.
//   - One writer owns the socket's write side. Senders encode their frame
//     and append it to a shared queue under a short lock; the writer swaps
//     the queue for an empty one and writes everything queued in a single
//     write call. Frames queued while a write is in progress therefore leave
//     together in the next one, which is what keeps the syscall count low
//     when many handlers answer at once. A queue that grows past a few
//     megabytes makes senders wait: a peer that does not read slows down
//     whoever writes to it instead of growing our memory.
//
// [Server] and [Client] own their connections' goroutines: Server.Shutdown,
// Server.Close and Client.Close return only after every one of them has
// ended. Handlers must therefore return once their context is cancelled,
// which happens when their connection closes.
package remoting
