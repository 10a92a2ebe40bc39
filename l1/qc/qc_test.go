package qc

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const testChain = 7

func testKeys(n int, tag byte) []*pqkey.PrivateKey {
	keys := make([]*pqkey.PrivateKey, n)
	for i := range keys {
		keys[i] = pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{tag, byte(i + 1)})
	}
	return keys
}

func testSet(t *testing.T, keys []*pqkey.PrivateKey, powers ...uint64) *ValidatorSet {
	t.Helper()
	vals := make([]Validator, len(keys))
	for i, k := range keys {
		vals[i] = Validator{Key: k.Public(), Power: powers[i]}
	}
	s, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certify signs h with each of keys and orders the votes as a certificate must be.
func certify(t *testing.T, set *ValidatorSet, h Header, keys ...*pqkey.PrivateKey) *Certificate {
	t.Helper()
	c := &Certificate{Header: h}
	byAddr := map[common.Address]*pqkey.PrivateKey{}
	for _, k := range keys {
		byAddr[k.Address()] = k
	}
	for _, v := range set.Validators() { // address order
		if k := byAddr[v.Key.Address()]; k != nil {
			sig, err := Sign(k, &h)
			if err != nil {
				t.Fatal(err)
			}
			c.Votes = append(c.Votes, Vote{Signer: k.Address(), Sig: sig})
			delete(byAddr, k.Address())
		}
	}
	for _, k := range byAddr { // non-members, appended after the members
		sig, err := Sign(k, &h)
		if err != nil {
			t.Fatal(err)
		}
		c.Votes = append(c.Votes, Vote{Signer: k.Address(), Sig: sig})
	}
	return c
}

func header(set *ValidatorSet, height uint64, root common.Hash) Header {
	return Header{ChainID: testChain, Height: height, AppHash: root, ValSetHash: set.Hash()}
}

func TestCertificateVerifyAccepts(t *testing.T) {
	keys := testKeys(4, 1)
	set := testSet(t, keys, 10, 10, 10, 10)
	root := common.HexToHash("0xaa")
	c := certify(t, set, header(set, 5, root), keys[0], keys[1], keys[3])
	enc, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(set, testChain, 5, root); err != nil {
		t.Fatalf("a certificate of 3 of 4 equal validators: %v", err)
	}
}

// TestCertificateRefusals is issue 15's client gate: a certificate with no more than 2/3 of the
// stake, with a non-member's signature, or for another app hash (or height, chain, set) is
// refused, and so is a forged or repeated vote.
func TestCertificateRefusals(t *testing.T) {
	keys := testKeys(4, 1)
	set := testSet(t, keys, 10, 10, 10, 10)
	root := common.HexToHash("0xaa")
	h := header(set, 5, root)
	outsider := testKeys(1, 9)[0]

	t.Run("below two thirds", func(t *testing.T) {
		c := certify(t, set, h, keys[0], keys[2])
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("2 of 4: %v, want ErrNoQuorum", err)
		}
	})
	t.Run("exactly two thirds", func(t *testing.T) {
		set3 := testSet(t, keys[:3], 10, 10, 10)
		h3 := header(set3, 5, root)
		c := certify(t, set3, h3, keys[0], keys[1])
		if err := c.Verify(set3, testChain, 5, root); !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("2 of 3: %v, want ErrNoQuorum", err)
		}
	})
	t.Run("stake, not count", func(t *testing.T) {
		heavy := testSet(t, keys, 70, 10, 10, 10) // 3 of 4 signers, 30 of 100 stake
		hh := header(heavy, 5, root)
		c := certify(t, heavy, hh, keys[1], keys[2], keys[3])
		if err := c.Verify(heavy, testChain, 5, root); !errors.Is(err, ErrNoQuorum) {
			t.Fatalf("30 of 100: %v, want ErrNoQuorum", err)
		}
		if err := certify(t, heavy, hh, keys[0]).Verify(heavy, testChain, 5, root); err != nil {
			t.Fatalf("1 of 4 signers with 70 of 100: %v", err)
		}
	})
	t.Run("non-member", func(t *testing.T) {
		c := certify(t, set, h, keys[0], keys[1], keys[2], outsider)
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrNotMember) {
			t.Fatalf("outsider's vote: %v, want ErrNotMember", err)
		}
	})
	t.Run("non-member set", func(t *testing.T) {
		// A quorum of another set, whose header names that set: the pinned set refuses it.
		other := testKeys(4, 2)
		oset := testSet(t, other, 10, 10, 10, 10)
		c := certify(t, oset, header(oset, 5, root), other...)
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrHeaderMismatch) {
			t.Fatalf("another set's certificate: %v, want ErrHeaderMismatch", err)
		}
		c.Header.ValSetHash = set.Hash() // now the votes are over another message, by non-members
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrNotMember) {
			t.Fatalf("another set's votes: %v, want ErrNotMember", err)
		}
	})
	t.Run("app hash mismatch", func(t *testing.T) {
		c := certify(t, set, h, keys...)
		if err := c.Verify(set, testChain, 5, common.HexToHash("0xbb")); !errors.Is(err, ErrHeaderMismatch) {
			t.Fatalf("other app hash: %v, want ErrHeaderMismatch", err)
		}
		if err := c.Verify(set, testChain, 6, root); !errors.Is(err, ErrHeaderMismatch) {
			t.Fatalf("other height: %v, want ErrHeaderMismatch", err)
		}
		if err := c.Verify(set, testChain+1, 5, root); !errors.Is(err, ErrHeaderMismatch) {
			t.Fatalf("other chain: %v, want ErrHeaderMismatch", err)
		}
		// The header rewritten to the wanted one: the signatures no longer verify.
		c.Header.AppHash = common.HexToHash("0xbb")
		if err := c.Verify(set, testChain, 5, common.HexToHash("0xbb")); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("rewritten header: %v, want ErrBadSignature", err)
		}
	})
	t.Run("forged vote", func(t *testing.T) {
		c := certify(t, set, h, keys[0], keys[1], keys[2])
		c.Votes[1].Sig[100] ^= 1
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("flipped bit: %v, want ErrBadSignature", err)
		}
		c = certify(t, set, h, keys[0], keys[1], keys[2])
		c.Votes[2].Sig = c.Votes[1].Sig // another member's signature under this signer
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("borrowed signature: %v, want ErrBadSignature", err)
		}
	})
	t.Run("repeated vote", func(t *testing.T) {
		c := certify(t, set, h, keys[0], keys[1])
		c.Votes = append(c.Votes, c.Votes[1])
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrMalformed) {
			t.Fatalf("a vote counted twice: %v, want ErrMalformed", err)
		}
	})
	t.Run("another context", func(t *testing.T) {
		c := certify(t, set, h, keys[0], keys[1], keys[2])
		for i, k := range []*pqkey.PrivateKey{keys[0], keys[1], keys[2]} {
			var err error
			if c.Votes[i].Signer != k.Address() {
				continue
			}
			if c.Votes[i].Sig, err = k.Sign(pqkey.ContextBlockHeader, testChain, 5, h.payload()); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Verify(set, testChain, 5, root); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("header-context signatures: %v, want ErrBadSignature", err)
		}
	})
}

func TestBuilder(t *testing.T) {
	keys := testKeys(4, 1)
	set := testSet(t, keys, 10, 10, 10, 10)
	root := common.HexToHash("0xcc")
	h := header(set, 9, root)
	b, err := NewBuilder(set, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:2] {
		sig, err := Sign(k, &h)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(k.Address(), sig); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(k.Address(), sig); err != nil { // a repeat is kept once
			t.Fatal(err)
		}
	}
	if _, err := b.Certificate(); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("2 of 4 votes: %v, want ErrNoQuorum", err)
	}
	outsider := testKeys(1, 9)[0]
	sig, err := Sign(outsider, &h)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(outsider.Address(), sig); !errors.Is(err, ErrNotMember) {
		t.Fatalf("outsider: %v, want ErrNotMember", err)
	}
	if err := b.Add(keys[2].Address(), sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("outsider's signature under a member: %v, want ErrBadSignature", err)
	}
	sig, err = Sign(keys[3], &h)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(keys[3].Address(), sig); err != nil {
		t.Fatal(err)
	}
	c, err := b.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Votes) != 3 || b.Power() != 30 {
		t.Fatalf("certificate of %d votes, power %d; want 3, 30", len(c.Votes), b.Power())
	}
	if err := c.Verify(set, testChain, 9, root); err != nil {
		t.Fatal(err)
	}
}

func TestValidatorSetRefusals(t *testing.T) {
	keys := testKeys(2, 1)
	cases := map[string][]Validator{
		"empty":      nil,
		"zero stake": {{Key: keys[0].Public(), Power: 0}},
		"twice":      {{Key: keys[0].Public(), Power: 1}, {Key: keys[0].Public(), Power: 2}},
		"overflow":   {{Key: keys[0].Public(), Power: 1 << 63}, {Key: keys[1].Public(), Power: 1 << 63}},
	}
	for name, vals := range cases {
		if _, err := NewValidatorSet(vals); !errors.Is(err, ErrBadSet) {
			t.Errorf("%s: %v, want ErrBadSet", name, err)
		}
	}
	a := testSet(t, keys, 1, 2)
	b := testSet(t, []*pqkey.PrivateKey{keys[1], keys[0]}, 2, 1)
	c := testSet(t, keys, 2, 1)
	if a.Hash() != b.Hash() || a.Hash() == c.Hash() {
		t.Fatalf("set hash: order-independent %v, stake-dependent %v", a.Hash() == b.Hash(), a.Hash() != c.Hash())
	}
}

func TestDecodeRefusesJunk(t *testing.T) {
	for _, b := range [][]byte{nil, {0x01}, {0xc1, 0xc0}, make([]byte, MaxValidators*(pqkey.SignatureSize+64)+257)} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%x...): %v, want ErrMalformed", b[:min(len(b), 4)], err)
		}
	}
}
