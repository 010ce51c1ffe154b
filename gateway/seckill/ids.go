package seckill

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/google/uuid"
)

// MinKeyLen is the shortest request-ID key accepted.
const MinKeyLen = 16

// ErrShortKey is returned by NewIDs for a key shorter than MinKeyLen.
var ErrShortKey = fmt.Errorf("seckill: request ID key shorter than %d bytes", MinKeyLen)

// IDs issues request IDs that carry their own proof of origin, so the
// gateway can tell later, without remembering anything, whether it issued
// an ID: the ID is a UUID (version 8, "custom") whose first 8 bytes are
// random and whose last 8 bytes are an HMAC-SHA256 of the first 8 under the
// gateway's key (62 bits of it; the variant bits take the rest).
//
// Gateways that share a key recognise each other's IDs; a new key (as after
// a restart with a random one) makes older IDs unknown, so their status
// reads 404 until the order service has seen them.
type IDs struct {
	key []byte
}

// NewIDs returns an issuer signing with key.
func NewIDs(key []byte) (*IDs, error) {
	if len(key) < MinKeyLen {
		return nil, ErrShortKey
	}
	return &IDs{key: append([]byte(nil), key...)}, nil
}

// RandomKey returns a fresh 32-byte key.
func RandomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// New returns a new request ID.
func (s *IDs) New() string {
	var u uuid.UUID
	rand.Read(u[:8])
	u[6] = u[6]&0x0f | 0x80 // version 8
	s.sign(&u)
	return u.String()
}

// Issued reports whether id is an ID signed with this key, in the form New
// writes it (lower-case hex with dashes).
func (s *IDs) Issued(id string) bool {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id || u.Version() != 8 {
		return false
	}
	want := u
	s.sign(&want)
	return hmac.Equal(u[8:], want[8:])
}

// sign writes the MAC of u[:8] into u[8:] and sets the variant bits.
func (s *IDs) sign(u *uuid.UUID) {
	m := hmac.New(sha256.New, s.key)
	m.Write(u[:8])
	copy(u[8:], m.Sum(nil))
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
}
