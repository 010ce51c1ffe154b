package remoting

import (
	"encoding/hex"
	"testing"
)

func FuzzDecodeFrame(f *testing.F) {
	seed := func(h string) []byte { b, _ := hex.DecodeString(h); return b[4:] }
	f.Add(seed(routeRequestJSON))   // the Go client's route request, JSON header
	f.Add(seed(routeRequestBinary)) // the same with the binary header
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add(append([]byte{0, 0, 0, 40}, `{"extFields":{"a":"\ud83d\ude00","b":1}}`...)) // escapes, coerced ext
	f.Add([]byte{1, 0, 0, 0})                                                         // binary, empty header
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := DecodeFrame(frame)
		if err != nil {
			return
		}
		again, err := AppendFrame(nil, c)
		if err != nil {
			return // e.g. an ext key too long for the binary form
		}
		c2, err := DecodeFrame(again[4:])
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v\n%q", err, again)
		}
		if !sameCommand(c2, c) {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", c, c2)
		}
	})
}
