// Package store is the broker's message store: RocketMQ's storage design
// (one commit log, a consume queue per topic and queue, a key index) in Go.
//
// # Files
//
//	<Dir>/FORMAT                    "surge-store 1": refuses foreign directories
//	<Dir>/abort                     exists while the store is open; found at
//	                                start it means the last run crashed
//	<Dir>/checkpoint                JSON: how far derived data is durable
//	<Dir>/commitlog/<20 digits>     commit-log segments, named by the offset
//	                                of their first byte (default 1 GiB each)
//	<Dir>/consumequeue/<topic>/<queueId>/<20 digits>
//	                                consume-queue segments of 20-byte entries,
//	                                named by the byte offset of their first
//	                                entry (default 300,000 entries each)
//	<Dir>/index/<files>             key index (see index.go)
//
// # Commit log
//
// Every message of every topic is appended to one log. A message's
// physical offset is its byte position in the log; segment i starts at
// i*SegmentSize. A record never straddles two segments: when the rest of a
// segment cannot hold the next record plus an 8-byte end marker, the rest is
// marked blank (TOTALSIZE = the rest, magic 0xCBD43194) and the record goes
// to the next segment. Segments are preallocated and memory-mapped.
//
// Records are RocketMQ's stored message layout (see protocol.Message), so a
// pull sends them to clients byte for byte.
//
// # Consume queues
//
// Entry n of queue (topic, q) describes the message at queue offset n:
// commit-log offset (int64), record size (int32) and tag code (int64), big
// endian. The appender assigns the queue offset and writes the entry under
// the same lock as the record, so queue offsets are dense and a message is
// readable as soon as its append returns. Consume queues are derived data:
// they can always be rebuilt from the commit log, and are, whenever their
// files are missing or out of step with the checkpoint.
//
// # Invariants
//
//   - One writer at a time (the put lock); readers never block it: they only
//     take read locks to find a segment and copy bytes out.
//   - Readers only read below published positions (the commit log's written
//     offset, a queue's max offset), which are stored after the bytes, so
//     they never see a half-written record.
//   - A message never straddles a segment.
//   - Consume queues and the index can be rebuilt from the commit log.
//   - An acknowledged append survives a kill -9 of the process: its bytes
//     are in the page cache before the append returns. With SYNC_FLUSH it
//     is also on disk (see flush.go for the group commit).
//
// Recovery after a crash is described in recover.go, retention and the disk
// watermark in retention.go.
package store
