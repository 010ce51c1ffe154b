//go:build indexstub

package store

import (
	"log/slog"
	"sync"
)

type indexConfig struct {
	Dir            string
	SlotsPerFile   int
	EntriesPerFile int
	Logger         *slog.Logger
}

type index struct {
	mu  sync.Mutex
	m   map[string][]int64
	max int64
}

func openIndex(cfg indexConfig) (*index, error) { return &index{m: map[string][]int64{}, max: -1}, nil }
func (ix *index) Add(key string, phy, ts int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.m[key] = append(ix.m[key], phy)
	ix.max = phy
	return nil
}
func (ix *index) Query(key string, begin, end int64, max int) []int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return append([]int64(nil), ix.m[key]...)
}
func (ix *index) MaxPhyOffset() int64                 { return ix.max }
func (ix *index) TruncateFrom(phy int64) error        { return nil }
func (ix *index) DeleteBelow(min int64) (int, error)  { return 0, nil }
func (ix *index) Flush() error                        { return nil }
func (ix *index) Close() error                        { return nil }
