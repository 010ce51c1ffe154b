package store

import (
	"errors"
	"fmt"
)

// Errors returned by the store. Compare with errors.Is.
var (
	ErrClosed          = errors.New("store: closed")
	ErrMessageTooLarge = errors.New("store: message larger than maxMessageSize")
	ErrInvalidTopic    = errors.New("store: invalid topic name")
	ErrDiskFull        = errors.New("store: disk usage above the hard watermark, writes refused")
	ErrBusy            = errors.New("store: busy, the commit log lock is held too long")
	ErrFlushTimeout    = errors.New("store: flush to disk timed out")
	ErrCorrupt         = errors.New("store: corrupt data")
	ErrForeignFormat   = errors.New("store: directory holds data of another format")
	ErrNotFound        = errors.New("store: message not found")
)

// A CorruptError says where bad bytes were found. errors.Is(err, ErrCorrupt)
// holds for it.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: corrupt data in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
