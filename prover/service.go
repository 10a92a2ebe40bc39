package prover

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"

	"github.com/pqbridge/pqbridge/l2"
)

// Job is a batch to prove: the full circuit witness (from Assign) and the commitment it
// proves. It travels between the settlement engine and a prover process as JSON (EncodeJob).
type Job struct {
	ID         string
	Params     Params
	Commitment l2.Commitment
	Witness    witness.Witness
	// VK is the verifying key the proof must verify under (the rollup's in force for the
	// batch). Zero: the prover's first key set (clients that do not name one).
	VK KeyID
}

// NewJob makes the job of an assignment.
func NewJob(id string, p Params, a *Assignment) (*Job, error) {
	w, err := frontend.NewWitness(a.Circuit, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("prover: witness of job %s: %w", id, err)
	}
	return &Job{ID: id, Params: p, Commitment: a.Commitment, Witness: w}, nil
}

// Result is a proven job.
type Result struct {
	ID             string
	CommitmentHash fr.Element
	Proof          groth16.Proof
	Duration       time.Duration // proving time, without the wait in the queue
}

// jobJSON and resultJSON are the wire forms; field elements and proofs are hex.
type jobJSON struct {
	ID         string         `json:"id"`
	Depth      int            `json:"depth"`
	BatchSize  int            `json:"batch_size"`
	Commitment commitmentJSON `json:"commitment"`
	Witness    string         `json:"witness"`      // gnark's binary witness encoding
	VK         string         `json:"vk,omitempty"` // hex KeyID; absent: the prover's first key set
}

type commitmentJSON struct {
	ChainID        uint64 `json:"chain_id"`
	BatchNumber    uint64 `json:"batch_number"`
	PrevRoot       string `json:"prev_root"`
	NewRoot        string `json:"new_root"`
	DepositsBefore string `json:"dq_before"`
	DepositsAfter  string `json:"dq_after"`
	WithdrawalRoot string `json:"withdrawal_root"`
	DataHash       string `json:"data_hash"`
	TraceRoot      string `json:"trace_root"`
	TxCount        uint64 `json:"tx_count"`
}

type resultJSON struct {
	ID             string `json:"id"`
	CommitmentHash string `json:"commitment_hash"`
	Proof          string `json:"proof"`          // MarshalProof
	SolidityProof  string `json:"solidity_proof"` // SolidityProof, for the EVM verifier
	ProveMillis    int64  `json:"prove_ms"`
}

func hexElement(e fr.Element) string { b := e.Bytes(); return hex.EncodeToString(b[:]) }

func parseElement(s string) (fr.Element, error) {
	var e fr.Element
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != fr.Bytes {
		return e, fmt.Errorf("prover: field element %q is not 32 hex bytes", s)
	}
	if err := e.SetBytesCanonical(b); err != nil {
		return e, fmt.Errorf("prover: field element %q: %w", s, err)
	}
	return e, nil
}

// EncodeJob returns the JSON form of a job.
func EncodeJob(j *Job) ([]byte, error) {
	w, err := j.Witness.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("prover: encoding job %s: %w", j.ID, err)
	}
	c := &j.Commitment
	var vk string
	if j.VK != (KeyID{}) {
		vk = j.VK.String()
	}
	return json.Marshal(jobJSON{VK: vk,
		ID: j.ID, Depth: j.Params.Depth, BatchSize: j.Params.BatchSize, Witness: hex.EncodeToString(w),
		Commitment: commitmentJSON{
			ChainID: c.ChainID, BatchNumber: c.BatchNumber, TxCount: c.TxCount,
			PrevRoot: hexElement(c.PrevRoot), NewRoot: hexElement(c.NewRoot),
			DepositsBefore: hexElement(c.DepositsBefore), DepositsAfter: hexElement(c.DepositsAfter),
			WithdrawalRoot: hexElement(c.WithdrawalRoot), DataHash: hexElement(c.DataHash), TraceRoot: hexElement(c.TraceRoot),
		},
	})
}

// DecodeJob parses EncodeJob's form. The witness's public input must be the commitment's hash.
func DecodeJob(b []byte) (*Job, error) {
	var jj jobJSON
	if err := json.Unmarshal(b, &jj); err != nil {
		return nil, fmt.Errorf("prover: decoding job: %w", err)
	}
	j := &Job{ID: jj.ID, Params: Params{Depth: jj.Depth, BatchSize: jj.BatchSize}}
	if err := j.Params.Validate(); err != nil {
		return nil, err
	}
	if jj.VK != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(jj.VK, "0x"))
		if err != nil || len(b) != len(j.VK) {
			return nil, fmt.Errorf("prover: job %s: vk %q is not 32 hex bytes", jj.ID, jj.VK)
		}
		copy(j.VK[:], b)
	}
	c := &j.Commitment
	c.ChainID, c.BatchNumber, c.TxCount = jj.Commitment.ChainID, jj.Commitment.BatchNumber, jj.Commitment.TxCount
	for _, f := range []struct {
		dst *fr.Element
		src string
	}{
		{&c.PrevRoot, jj.Commitment.PrevRoot}, {&c.NewRoot, jj.Commitment.NewRoot},
		{&c.DepositsBefore, jj.Commitment.DepositsBefore}, {&c.DepositsAfter, jj.Commitment.DepositsAfter},
		{&c.WithdrawalRoot, jj.Commitment.WithdrawalRoot}, {&c.DataHash, jj.Commitment.DataHash},
		{&c.TraceRoot, jj.Commitment.TraceRoot},
	} {
		var err error
		if *f.dst, err = parseElement(f.src); err != nil {
			return nil, fmt.Errorf("job %s: %w", jj.ID, err)
		}
	}
	raw, err := hex.DecodeString(jj.Witness)
	if err != nil {
		return nil, fmt.Errorf("prover: job %s: witness: %w", jj.ID, err)
	}
	if j.Witness, err = witness.New(ecc.BN254.ScalarField()); err != nil {
		return nil, err
	}
	if err := j.Witness.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("prover: job %s: witness: %w", jj.ID, err)
	}
	if err := j.checkPublic(); err != nil {
		return nil, err
	}
	return j, nil
}

// checkPublic requires the witness's public input to be the commitment's hash.
func (j *Job) checkPublic() error {
	pub, err := j.Witness.Public()
	if err != nil {
		return fmt.Errorf("prover: job %s: %w", j.ID, err)
	}
	v, ok := pub.Vector().(fr.Vector)
	h := j.Commitment.Hash()
	if !ok || len(v) != 1 || !v[0].Equal(&h) {
		return fmt.Errorf("%w: job %s: the witness's public input is not the commitment's hash", ErrNotProvable, j.ID)
	}
	return nil
}

// Config configures a Service.
type Config struct {
	Keys *Keys
	// MoreKeys are further key sets of Keys' parameters (a rotated verifying key loaded during
	// a config change's timelock); a job names the set by its VK (Job.VK).
	MoreKeys []*Keys
	// Workers is the number of proofs made at once (default 1). gnark already uses every core
	// for one proof; more workers only help on machines with many cores and the memory for
	// several proofs (each holds the proving key's working set).
	Workers int
	// QueueSize bounds the jobs waiting for a worker (default 16); Prove blocks when it is full.
	QueueSize int
	// Progress reports each proof (nil: silent).
	Progress *Progress
}

// ErrStopped is returned for jobs submitted to, or still queued in, a stopped Service.
var ErrStopped = errors.New("prover: service stopped")

// Service proves batch jobs with a pool of workers, in-process (the settlement engine calls
// Prove) or as its own process (cmd pqprover feeds it jobs from a directory or stdin). Every
// proof is verified before it is returned.
type Service struct {
	cfg   Config
	queue chan *request
	sets  []keySet // Keys then MoreKeys

	mu       sync.Mutex
	started  bool
	cancel   context.CancelFunc
	stopping chan struct{} // closed when Stop begins: no new jobs
	stopped  chan struct{} // closed when Stop has finished: every job has its answer
	stopOnce sync.Once
	wg       sync.WaitGroup
	proving  atomic.Int32 // jobs a worker is proving now
}

type request struct {
	ctx  context.Context
	job  *Job
	done chan response // buffered: a worker never blocks on a caller that left
}

type response struct {
	res *Result
	err error
}

// New returns a service for cfg.Keys. Start it before Prove.
func New(cfg Config) (*Service, error) {
	if cfg.Keys == nil {
		return nil, errors.New("prover: service without keys")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16
	}
	s := &Service{cfg: cfg, queue: make(chan *request, cfg.QueueSize), stopping: make(chan struct{}), stopped: make(chan struct{})}
	for _, k := range append([]*Keys{cfg.Keys}, cfg.MoreKeys...) {
		if k == nil || k.Params != cfg.Keys.Params {
			return nil, fmt.Errorf("prover: every key set must be for %v", cfg.Keys.Params)
		}
		id, err := VerifyingKeyID(k.VK)
		if err != nil {
			return nil, err
		}
		s.sets = append(s.sets, keySet{id: id, keys: k})
	}
	return s, nil
}

// Load reports the jobs being proven and the jobs waiting for a worker (cmd/pqprover's
// metrics).
func (s *Service) Load() (proving, queued int) {
	return int(s.proving.Load()), len(s.queue)
}

// Start starts the workers; they run until Stop, or until ctx ends, which stops the service
// as Stop does.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopping:
		return ErrStopped
	default:
	}
	if s.started {
		return errors.New("prover: service already started")
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	for range s.cfg.Workers {
		s.wg.Add(1)
		go s.worker(ctx)
	}
	go func() {
		<-ctx.Done()
		s.Stop()
	}()
	return nil
}

// Stop stops the workers: a proof in progress is finished and returned (gnark cannot interrupt
// one), queued jobs fail with ErrStopped. It waits for the workers and is idempotent.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		close(s.stopping)
		if s.cancel != nil {
			s.cancel()
		}
		s.mu.Unlock()
		s.wg.Wait()
		for drained := false; !drained; {
			select {
			case r := <-s.queue:
				r.done <- response{err: ErrStopped}
			default:
				drained = true
			}
		}
		close(s.stopped)
	})
}

// Prove queues the job and waits for its proof. If ctx ends first Prove returns ctx's error
// (a job already being proven still runs to the end; a queued one is dropped).
func (s *Service) Prove(ctx context.Context, job *Job) (*Result, error) {
	if job.Params != s.cfg.Keys.Params {
		return nil, fmt.Errorf("%w: job %s for %v, keys for %v", ErrNotProvable, job.ID, job.Params, s.cfg.Keys.Params)
	}
	if !s.HasVK(job.VK) {
		return nil, fmt.Errorf("%w: job %s is for verifying key %v, which this prover does not hold (it holds %v)", ErrNotProvable, job.ID, job.VK, s.KeyIDs())
	}
	r := &request{ctx: ctx, job: job, done: make(chan response, 1)}
	select {
	case <-s.stopping:
		return nil, ErrStopped
	default:
	}
	select {
	case s.queue <- r:
	case <-s.stopping:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case resp := <-r.done:
		return resp.res, resp.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stopped:
		// Stop answered every job it saw; one queued after its last look gets ErrStopped.
		select {
		case resp := <-r.done:
			return resp.res, resp.err
		default:
			return nil, ErrStopped
		}
	}
}

func (s *Service) worker(ctx context.Context) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.queue:
			if err := r.ctx.Err(); err != nil {
				r.done <- response{err: err}
				continue
			}
			s.proving.Add(1)
			res, err := s.prove(r.job)
			s.proving.Add(-1)
			r.done <- response{res: res, err: err}
		}
	}
}

// prove makes and verifies the proof of one job.
func (s *Service) prove(job *Job) (*Result, error) {
	k := s.keysFor(job.VK)
	if k == nil {
		return nil, fmt.Errorf("%w: job %s: no key set for verifying key %v", ErrNotProvable, job.ID, job.VK)
	}
	if err := job.checkPublic(); err != nil {
		return nil, err
	}
	start := time.Now()
	proof, err := proveWitness(k, job.Witness, "job "+job.ID, s.cfg.Progress)
	elapsed := time.Since(start)
	if err != nil {
		return nil, err
	}
	h := job.Commitment.Hash()
	if err := Verify(k.VK, h, proof); err != nil {
		return nil, fmt.Errorf("prover: job %s: own proof rejected: %w", job.ID, err)
	}
	return &Result{ID: job.ID, CommitmentHash: h, Proof: proof, Duration: elapsed}, nil
}
