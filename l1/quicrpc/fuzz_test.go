package quicrpc

import (
	"bytes"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func seedRequest(t testing.TB) []byte {
	c := &Client{cfg: ClientConfig{Key: aliceKey}, binding: make([]byte, bindingSize)}
	return c.forge(t, envelope{payload: []byte("seed")})
}

func seedResponse(t testing.TB) []byte {
	sig, err := validatorKey.Sign(pqkey.ContextResponse, testChainID, 0, []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	return encode(&response{Seq: 0, Status: statusError, Error: "no such batch", Payload: []byte("p"), Signature: sig})
}

// FuzzDecodeRequest: the decoder never panics, and whatever it accepts is canonical (encodes
// back to the same bytes), so one request has exactly one encoding and one hash.
func FuzzDecodeRequest(f *testing.F) {
	good := seedRequest(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{0xc0})
	f.Add([]byte{0xf9, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b, mldsa65)
		if err != nil {
			return
		}
		if len(r.Sender) != pqkey.PublicKeySize || len(r.Signature) != pqkey.SignatureSize || len(r.Binding) != bindingSize {
			t.Fatalf("accepted a request with field sizes %d/%d/%d", len(r.Sender), len(r.Signature), len(r.Binding))
		}
		if !bytes.Equal(encode(r), b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

// FuzzDecodeResponse: as FuzzDecodeRequest, for responses and events.
func FuzzDecodeResponse(f *testing.F) {
	good := seedResponse(f)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResponse(b, mldsa65)
		if err != nil {
			return
		}
		if len(r.Signature) != pqkey.SignatureSize || r.Status > statusMax || len(r.Error) > maxErrorLen {
			t.Fatalf("accepted a response with signature %d B, status %d, error %d B", len(r.Signature), r.Status, len(r.Error))
		}
		if !bytes.Equal(encode(r), b) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

// FuzzReadFrame: a frame is never larger than the limit, whatever the length prefix says.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3}, 16)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 16)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		body, err := readFrame(bytes.NewReader(b), max)
		if err == nil && (len(body) > max || len(body) == 0 || !bytes.Equal(body, b[frameHeaderSize:frameHeaderSize+len(body)])) {
			t.Fatalf("frame of %d bytes with limit %d", len(body), max)
		}
	})
}
