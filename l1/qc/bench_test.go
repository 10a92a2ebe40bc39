package qc

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// BenchmarkCertificateVerify is what a client pays per reply to check a certificate of 3 of 4
// validators (3 ML-DSA-65 verifications and the cheap checks).
func BenchmarkCertificateVerify(b *testing.B) {
	keys := testKeys(4, 1)
	vals := make([]Validator, len(keys))
	for i, k := range keys {
		vals[i] = Validator{Key: k.Public(), Power: 10}
	}
	set, err := NewValidatorSet(vals)
	if err != nil {
		b.Fatal(err)
	}
	root := common.HexToHash("0xaa")
	h := Header{ChainID: testChain, Height: 5, AppHash: root, ValSetHash: set.Hash()}
	c := &Certificate{Header: h}
	for _, v := range set.Validators()[:3] {
		for _, k := range keys {
			if k.Address() == v.Key.Address() {
				sig, err := Sign(k, &h)
				if err != nil {
					b.Fatal(err)
				}
				c.Votes = append(c.Votes, Vote{Signer: k.Address(), Sig: sig})
			}
		}
	}
	enc, err := c.Encode()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d, err := Decode(enc)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Verify(set, testChain, 5, root); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(enc)), "cert-bytes")
}
