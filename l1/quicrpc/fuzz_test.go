package quicrpc

import (
	"bytes"
	"errors"
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

// FuzzOpenResponse runs the client's whole handling of a response or event frame body on
// arbitrary bytes: decoding, the request hash, the sequence number, the validator's signature
// over this connection's binding and chain, the status. The seeds are messages sealed by a real
// server. It never panics, a rejection is ErrMalformed or ErrBadSignature, and what verifies says
// what a genuine message said: every field is signed or checked, so any other content that
// verified would be a forgery. (Signatures are randomized, so the genuine messages are known by
// content, not bytes: each fuzzing worker seals its own.)
func FuzzOpenResponse(f *testing.F) {
	sealer := func(chainID uint64) *Server {
		srv, err := NewServer(ServerConfig{ValidatorKey: validatorKey, ChainID: chainID})
		if err != nil {
			f.Fatal(err)
		}
		return srv
	}
	srv, otherChain := sealer(testChainID), sealer(testChainID+1)
	binding, otherBinding := bytes.Repeat([]byte{0xb1}, bindingSize), bytes.Repeat([]byte{0xb2}, bindingSize)
	hash := requestHash([]byte("request"))
	c := &Client{cfg: ClientConfig{ChainID: testChainID, validator: validatorKey.Public(), scheme: mldsa65}, binding: binding}

	type content struct {
		seq, status uint64
		errMsg      string
		payload     string
	}
	genuine := make(map[content]bool)
	for _, m := range []struct {
		seq, status uint64
		errMsg      string
		payload     []byte
		want        error // nil: the payload
	}{
		{0, statusOK, "", []byte("balance 1000"), nil},
		{0, statusError, "not_found: no such batch", nil, ErrRemote},
		{0, statusReplay, "quicrpc: replayed request (nonce already used): nonce 3", nil, ErrReplay},
		{1, statusOK, "", []byte("event-1"), nil},
		{2, statusError, "internal error", nil, ErrRemote},
	} {
		b, err := srv.sealResponse(binding, hash, m.seq, m.status, m.errMsg, m.payload)
		if err != nil {
			f.Fatal(err)
		}
		got, err := c.openResponse(b, hash, m.seq)
		if !errors.Is(err, m.want) || !bytes.Equal(got, m.payload) {
			f.Fatalf("genuine message %d/%d: %q, %v", m.seq, m.status, got, err)
		}
		genuine[content{m.seq, m.status, m.errMsg, string(m.payload)}] = true
		f.Add(b, m.seq)
	}
	for _, forged := range []func() ([]byte, error){
		func() ([]byte, error) { return srv.sealResponse(otherBinding, hash, 0, statusOK, "", []byte("x")) },
		func() ([]byte, error) { return otherChain.sealResponse(binding, hash, 0, statusOK, "", []byte("x")) },
		func() ([]byte, error) {
			return srv.sealResponse(binding, requestHash(nil), 0, statusOK, "", []byte("x"))
		},
	} {
		b, err := forged()
		if err != nil {
			f.Fatal(err)
		}
		if _, err := c.openResponse(b, hash, 0); !errors.Is(err, ErrBadSignature) {
			f.Fatalf("message for another connection, chain or request: %v, want ErrBadSignature", err)
		}
		f.Add(b, uint64(0))
	}
	f.Add([]byte{0xc0}, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, seq uint64) {
		_, err := c.openResponse(b, hash, seq)
		switch {
		case err == nil || errors.Is(err, ErrRemote) || errors.Is(err, ErrReplay):
			r, derr := decodeResponse(b, mldsa65)
			if derr != nil {
				t.Fatalf("verified a message that does not decode: %v", derr)
			}
			if !genuine[content{r.Seq, r.Status, r.Error, string(r.Payload)}] {
				t.Fatalf("a message the validator never sealed verified: %x", b)
			}
		case !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature):
			t.Fatalf("rejection %v is neither ErrMalformed nor ErrBadSignature", err)
		}
	})
}
