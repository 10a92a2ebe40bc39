package prover

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// EncodeResult returns the JSON form of a result.
func EncodeResult(r *Result) ([]byte, error) {
	p, err := MarshalProof(r.Proof)
	if err != nil {
		return nil, err
	}
	sol, err := SolidityProof(r.Proof)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resultJSON{ID: r.ID, CommitmentHash: hexElement(r.CommitmentHash),
		Proof: hex.EncodeToString(p), SolidityProof: hex.EncodeToString(sol), ProveMillis: r.Duration.Milliseconds()})
}

// DecodeResult parses EncodeResult's form.
func DecodeResult(b []byte) (*Result, error) {
	var rj resultJSON
	if err := json.Unmarshal(b, &rj); err != nil {
		return nil, fmt.Errorf("prover: decoding result: %w", err)
	}
	h, err := parseElement(rj.CommitmentHash)
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(rj.Proof)
	if err != nil {
		return nil, fmt.Errorf("prover: result %s: proof: %w", rj.ID, err)
	}
	proof, err := ParseProof(raw)
	if err != nil {
		return nil, err
	}
	return &Result{ID: rj.ID, CommitmentHash: h, Proof: proof, Duration: time.Duration(rj.ProveMillis) * time.Millisecond}, nil
}
