// Package proverapi is the prover as a network role: an HTTP server that proves batch jobs with
// a prover.Service (POST /v1/prove: prover.EncodeJob's JSON in, prover.EncodeResult's out) and
// says what it proves (GET /v1/info: parameters and verifying key), and the Go client the
// settlement engine proves through (settlement.ServiceProver over a Client). cmd/pqprover
// serves it with -listen; cmd/pqsequencer uses it with -prover. docs/prover.md describes it.
package proverapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/consensys/gnark/backend/groth16"

	"github.com/pqbridge/pqbridge/prover"
)

// API paths.
const (
	PathInfo  = "/v1/info"
	PathProve = "/v1/prove"
)

// jobOverheadBytes bounds what a job's JSON holds besides the witness: the commitment (seven
// field elements in hex, three numbers), the parameters and an ID of a few kilobytes.
const jobOverheadBytes = 8 << 10

// maxResultBytes bounds a result read by the client: a proof is 196 bytes, its Solidity form
// 384; the rest is the ID and the commitment hash.
const maxResultBytes = 64 << 10

// maxInfoBytes bounds an info reply: the verifying key is about 1 kB.
const maxInfoBytes = 64 << 10

// maxErrorBytes bounds an error body read by the client.
const maxErrorBytes = 16 << 10

// MaxJobBytes is the largest job (EncodeJob's JSON) of the keys' parameters: gnark's binary
// witness (a 12-byte header and 32 bytes per public and secret input) in hex, plus the rest of
// the job. The server refuses longer bodies before decoding anything.
func MaxJobBytes(k *prover.Keys) int64 {
	inputs := int64(k.CS.GetNbPublicVariables() + k.CS.GetNbSecretVariables())
	return 2*(12+32*inputs) + jobOverheadBytes
}

// Info is what GET /v1/info reports: the parameters the prover serves and its verifying key.
type Info struct {
	Params prover.Params
	// KeyID is the verifying key's ID (prover.VerifyingKeyID): the vkHash L1 records for a
	// rollup and verifies its validity proofs under.
	KeyID        prover.KeyID
	VerifyingKey groth16.VerifyingKey
	// KeyIDs and VerifyingKeys are every key set the prover serves, KeyID's first (a rotated
	// verifying key loaded during a config change's timelock); a job names one (prover.Job.VK).
	KeyIDs        []prover.KeyID
	VerifyingKeys []groth16.VerifyingKey
	MaxJobBytes   int64
	// Workers is how many proofs the prover makes at once (ServerConfig.Workers); a pool
	// (prover/proverpool) sends it no more jobs at once. At least 1 (a server that does not say).
	Workers int
}

// infoJSON is Info's wire form.
type infoJSON struct {
	Params         string `json:"params"` // prover.Params.String(), e.g. "batch-v2-d24-b16"
	CircuitVersion string `json:"circuit_version"`
	Depth          int    `json:"depth"`
	BatchSize      int    `json:"batch_size"`
	VerifyingKeyID string `json:"verifying_key_id"` // hex, no 0x: pqsetup export's and the manifest's
	VerifyingKey   string `json:"verifying_key"`    // hex of prover.VerifyingKeyBytes
	MaxJobBytes    int64  `json:"max_job_bytes"`
	Workers        int    `json:"workers"`
	// VerifyingKeys: hex of every key set's verifying key, the first verifying_key's (absent
	// from older provers: verifying_key only).
	VerifyingKeys []string `json:"verifying_keys,omitempty"`
}

func newInfoJSON(k *prover.Keys, more []*prover.Keys, workers int) (*infoJSON, error) {
	ij := &infoJSON{Params: k.Params.String(), CircuitVersion: prover.CircuitVersion, Depth: k.Params.Depth,
		BatchSize: k.Params.BatchSize, MaxJobBytes: MaxJobBytes(k), Workers: workers}
	for i, ks := range append([]*prover.Keys{k}, more...) {
		if ks.Params != k.Params {
			return nil, fmt.Errorf("proverapi: key set %d is for %v, the first for %v", i, ks.Params, k.Params)
		}
		vk, err := prover.VerifyingKeyBytes(ks.VK)
		if err != nil {
			return nil, err
		}
		ij.VerifyingKeys = append(ij.VerifyingKeys, hex.EncodeToString(vk))
	}
	id, err := prover.VerifyingKeyID(k.VK)
	if err != nil {
		return nil, err
	}
	ij.VerifyingKeyID, ij.VerifyingKey = id.String(), ij.VerifyingKeys[0]
	return ij, nil
}

// parse checks the reply: a circuit of this version, valid parameters, and a verifying key
// that hashes to the ID announced.
func (j *infoJSON) parse() (*Info, error) {
	if j.CircuitVersion != prover.CircuitVersion {
		return nil, fmt.Errorf("proverapi: the prover's circuit is %q, this binary's %q", j.CircuitVersion, prover.CircuitVersion)
	}
	info := &Info{Params: prover.Params{Depth: j.Depth, BatchSize: j.BatchSize}, MaxJobBytes: j.MaxJobBytes, Workers: max(j.Workers, 1)}
	if err := info.Params.Validate(); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(j.VerifyingKey)
	if err != nil {
		return nil, fmt.Errorf("proverapi: verifying key: %w", err)
	}
	if info.VerifyingKey, err = prover.ParseVerifyingKey(raw); err != nil {
		return nil, err
	}
	if info.KeyID, err = prover.VerifyingKeyID(info.VerifyingKey); err != nil {
		return nil, err
	}
	if got := strings.TrimPrefix(strings.ToLower(j.VerifyingKeyID), "0x"); got != info.KeyID.String() {
		return nil, fmt.Errorf("proverapi: the prover announces key %s but its verifying key is %s", got, info.KeyID)
	}
	info.KeyIDs, info.VerifyingKeys = []prover.KeyID{info.KeyID}, []groth16.VerifyingKey{info.VerifyingKey}
	if len(j.VerifyingKeys) > 0 && j.VerifyingKeys[0] != j.VerifyingKey {
		return nil, errors.New("proverapi: the prover's first verifying key is not its verifying_key")
	}
	for i := 1; i < len(j.VerifyingKeys); i++ {
		raw, err := hex.DecodeString(j.VerifyingKeys[i])
		if err != nil {
			return nil, fmt.Errorf("proverapi: verifying key %d: %w", i, err)
		}
		vk, err := prover.ParseVerifyingKey(raw)
		if err != nil {
			return nil, fmt.Errorf("proverapi: verifying key %d: %w", i, err)
		}
		id, err := prover.VerifyingKeyID(vk)
		if err != nil {
			return nil, err
		}
		info.KeyIDs, info.VerifyingKeys = append(info.KeyIDs, id), append(info.VerifyingKeys, vk)
	}
	return info, nil
}

// VerifyingKeyOf returns the verifying key of the set id names (zero: the first), or false.
func (i *Info) VerifyingKeyOf(id prover.KeyID) (groth16.VerifyingKey, bool) {
	if id == (prover.KeyID{}) {
		return i.VerifyingKey, true
	}
	for k, kid := range i.KeyIDs {
		if kid == id {
			return i.VerifyingKeys[k], true
		}
	}
	return nil, false
}

// Error codes of the API's JSON errors ({"code": ..., "error": ...}).
const (
	CodeBadJob      = "bad_job"      // 400: not a job (JSON, hex, witness encoding, parameters out of range)
	CodeTooLarge    = "too_large"    // 413: the body exceeds MaxJobBytes
	CodeWrongParams = "wrong_params" // 422: a job for parameters this prover does not serve
	CodeNotProvable = "not_provable" // 422: prover.ErrNotProvable: the witness does not prove its commitment
	CodeBusy        = "busy"         // 503: as many jobs as the service holds already; nothing was done
	CodeStopped     = "stopped"      // 503: the prover is stopping; the job was not proven
	CodeTimeout     = "timeout"      // 504: the proof took longer than the server's bound
	CodeFailed      = "failed"       // 500: proving failed otherwise
	CodeNotFound    = "not_found"    // 404: no such path
	CodeMethod      = "bad_method"   // 405: GET /v1/prove, POST /v1/info
	CodeAuth        = "unauthorized" // 401: the server has a token and the request did not bear it
)

// errorJSON is the body of every error reply.
type errorJSON struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

// Error is an error reply of the prover API.
type Error struct {
	Status  int    // HTTP status
	Code    string // one of the Code constants
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("prover API: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes a not_provable reply match prover.ErrNotProvable (errors.Is), as the same refusal by
// an in-process Service does: no prover would prove the job.
func (e *Error) Is(target error) bool {
	return target == prover.ErrNotProvable && e.Code == CodeNotProvable
}
