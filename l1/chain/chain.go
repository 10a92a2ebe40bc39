package chain

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// ProofVerifier checks a validity proof (Groth16 over BN254 in production, from package prover)
// for the verifying key named by vkHash and the single public input commitment_hash.
type ProofVerifier interface {
	Verify(vkHash [32]byte, publicInput fr.Element, proof []byte) error
}

// FraudCase is what a fraud proof is judged against: a pending optimistic batch as L1 stored it
// (L2 chain ID, tree depth, commitment, decompressed data) and the proof. It is defined by
// package fraud, whose proofs and judge do not depend on L1.
type FraudCase = fraud.Case

// FraudJudge decides a fraud proof (fraud.Judge, the single-step verifier, in production).
// It returns true only if the proof shows the batch is fraudulent; false or an error leave the
// batch standing.
type FraudJudge interface {
	Judge(c *FraudCase) (bool, error)
}

// Alloc funds an account at genesis.
type Alloc struct {
	Address common.Address
	Balance uint64
}

// Genesis fixes the chain: its ID, the validator whose key signs block headers, the initial
// balances and time, and the transaction fees.
type Genesis struct {
	ChainID   uint64
	Validator []byte // ML-DSA-65 public key
	Timestamp uint64
	Alloc     []Alloc
	Fees      Fees // zero: no fees
	// Validators is the staked validator set of a chain under external consensus (validators.go);
	// none: no validator state, and the validator transactions are refused.
	Validators []GenesisValidator
	Staking    Staking
}

// Config configures a Chain.
type Config struct {
	Genesis  Genesis
	Verifier ProofVerifier // nil: validity batches are rejected
	Judge    FraudJudge    // nil: challenges are rejected
	// Guard is the pebble.Logger the store was opened with: commits go through it, so that a
	// failed write or sync is an error (pebbleguard.ErrFault), not the end of the process. nil:
	// plain commits (tests on an in-memory store).
	Guard *pebbleguard.Guard
	// ExternalConsensus: a BFT engine orders and certifies the blocks (package l1/abci, whose
	// ML-DSA-65 quorum certificates, package l1/qc, take the place of the header signature), so
	// Commit takes no signature. Genesis.Validator is then only the Proposer headers name.
	ExternalConsensus bool
}

type Header = l1api.Header

type SealedBlock = l1api.SealedBlock

type Receipt = l1api.Receipt

type EventKind = l1api.EventKind

const (
	EventBlock             = l1api.EventBlock
	EventRollupRegistered  = l1api.EventRollupRegistered
	EventDeposit           = l1api.EventDeposit
	EventBatchSubmitted    = l1api.EventBatchSubmitted
	EventBatchFinalized    = l1api.EventBatchFinalized
	EventBatchReverted     = l1api.EventBatchReverted
	EventChallengeUpheld   = l1api.EventChallengeUpheld
	EventWithdrawalPaid    = l1api.EventWithdrawalPaid
	EventWithdrawalDelayed = l1api.EventWithdrawalDelayed
	EventRollupFrozen      = l1api.EventRollupFrozen
	EventExodus            = l1api.EventExodus
	EventDepositRefunded   = l1api.EventDepositRefunded
	EventPaused            = l1api.EventPaused
	EventUnpaused          = l1api.EventUnpaused
	EventChallengeRejected = l1api.EventChallengeRejected
	EventConfigQueued      = l1api.EventConfigQueued
	EventConfigActivated   = l1api.EventConfigActivated
	EventValidatorChange   = l1api.EventValidatorChange
	EventValidatorSet      = l1api.EventValidatorSet
	EventValidatorSlashed  = l1api.EventValidatorSlashed
	EventStakeReleased     = l1api.EventStakeReleased
)

type Event = l1api.Event

// Result is the outcome of applying a block.
type Result struct {
	Header   Header
	Receipts []Receipt
	Errs     []error // the error of each failed transaction, nil for applied ones
	Events   []Event
}

// head is the last committed block.
type head struct {
	Height    uint64
	Hash      common.Hash
	Timestamp uint64
	StateRoot common.Hash
}

// Chain is the deterministic settlement state machine over a pebble store. Execute/Commit (or
// Apply) must be called from one goroutine; queries may run concurrently with them.
type Chain struct {
	db        *pebble.DB
	cfg       Config
	validator *pqkey.PublicKey
	fees      Fees // as stored at genesis

	mu   sync.RWMutex
	head head
	// committing is the view of the store the queries read while a block's batch is being
	// committed, nil otherwise. pebble makes a batch readable when it is applied to the
	// memtable, before its WAL record is written and synced; until Commit has returned, a
	// query must not see the block (a kill -9 in that window loses it, and the head does not
	// name it yet), so the queries read a snapshot taken before the commit. Guarded by mu.
	committing *pebble.Snapshot
}

// reader returns what the queries read, the store as of the head; mu must be held (read).
func (c *Chain) reader() pebble.Reader {
	if c.committing != nil {
		return c.committing
	}
	return c.db
}

// Open opens the chain in db, writing the genesis state if db is empty.
func Open(db *pebble.DB, cfg Config) (*Chain, error) {
	v, err := pqkey.ParsePublicKey(cfg.Genesis.Validator)
	if err != nil {
		return nil, fmt.Errorf("chain: genesis validator: %w", err)
	}
	c := &Chain{db: db, cfg: cfg, validator: v, fees: cfg.Genesis.Fees}
	b, ok, err := dbGet(db, []byte(keyHead))
	if err != nil {
		return nil, err
	}
	if !ok {
		return c, c.writeGenesis()
	}
	if err := c.loadFees(); err != nil {
		return nil, err
	}
	if err := rlp.DecodeBytes(b, &c.head); err != nil {
		return nil, fmt.Errorf("%w: head: %v", ErrCorruptStore, err)
	}
	root, err := treeRoot(db)
	if err != nil {
		return nil, err
	}
	if root != c.head.StateRoot {
		return nil, fmt.Errorf("%w: the state tree's root %s is not the head's state root %s", ErrCorruptStore, root, c.head.StateRoot)
	}
	g, err := c.Block(0)
	if err != nil {
		return nil, err
	}
	if want := c.genesisHeader(g.Header.StateRoot); g.Header != want {
		return nil, fmt.Errorf("chain: the store holds another genesis (chain %d)", g.Header.ChainID)
	}
	return c, nil
}

// loadFees reads the fees the store's genesis fixed, which must be the configured genesis's.
func (c *Chain) loadFees() error {
	c.fees = Fees{}
	b, ok, err := dbGet(c.db, []byte(keyFees()))
	if err != nil {
		return err
	}
	if ok {
		if err := decodeEntry(keyFees(), b, &c.fees); err != nil {
			return err
		}
	}
	if c.fees != c.cfg.Genesis.Fees {
		return fmt.Errorf("chain: the store's genesis has fees %+v, the configured genesis %+v", c.fees, c.cfg.Genesis.Fees)
	}
	return nil
}

// Fees are the chain's transaction fees (fixed at genesis).
func (c *Chain) Fees() Fees { return c.fees }

func (c *Chain) genesisHeader(root common.Hash) Header {
	return Header{ChainID: c.cfg.Genesis.ChainID, Timestamp: c.cfg.Genesis.Timestamp,
		Proposer: c.validator.Address(), StateRoot: root}
}

func (c *Chain) writeGenesis() error {
	o := newOverlay(c.db)
	for _, a := range c.cfg.Genesis.Alloc {
		var acct Account
		if _, err := o.getRLP(keyAccount(a.Address), &acct); err != nil {
			return err
		}
		if acct.Balance+a.Balance < acct.Balance {
			return fmt.Errorf("chain: genesis alloc of %s: %w", a.Address, ErrOverflow)
		}
		acct.Balance += a.Balance
		o.putRLP(keyAccount(a.Address), &acct)
	}
	if !c.fees.IsZero() { // absent for a chain without fees: its genesis root is unchanged
		o.putRLP(keyFees(), &c.fees)
	}
	if err := genesisValidators(o, &c.cfg.Genesis); err != nil {
		return err
	}
	o.commitTx()
	batch := c.db.NewBatch()
	defer batch.Close()
	root, err := o.updateRoot()
	if err != nil {
		return err
	}
	if err := o.flush(batch); err != nil {
		return err
	}
	h := c.genesisHeader(root)
	hd := head{Height: 0, Hash: h.Hash(), Timestamp: h.Timestamp, StateRoot: h.StateRoot}
	if err := writeMeta(batch, &SealedBlock{Header: h}, nil, nil, &hd); err != nil {
		return err
	}
	if err := c.commit(batch); err != nil {
		return fmt.Errorf("chain: committing genesis: %w", err)
	}
	c.head = hd
	return nil
}

func writeMeta(batch *pebble.Batch, b *SealedBlock, receipts []Receipt, events []Event, hd *head) error {
	set := func(k string, v any) error {
		enc, err := rlp.EncodeToBytes(v)
		if err != nil {
			return fmt.Errorf("chain: encoding %s: %w", k, err)
		}
		return batch.Set([]byte(k), enc, nil)
	}
	h := b.Header.Height
	if err := set(keyBlock(h), b); err != nil {
		return err
	}
	if err := set(keyReceipts(h), receipts); err != nil {
		return err
	}
	for i := range events {
		if err := set(keyEvent(h, uint64(i)), &events[i]); err != nil {
			return err
		}
	}
	return set(keyHead, hd)
}

// ChainID is the L1 chain ID.
func (c *Chain) ChainID() uint64 { return c.cfg.Genesis.ChainID }

// Validator is the key that signs block headers.
func (c *Chain) Validator() *pqkey.PublicKey { return c.validator }

// Head returns the height, hash, timestamp and state root of the last committed block.
func (c *Chain) Head() (height uint64, hash common.Hash, timestamp uint64, stateRoot common.Hash) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.head.Height, c.head.Hash, c.head.Timestamp, c.head.StateRoot
}

// Pending is an executed, not yet committed block.
type Pending struct {
	Result
	// ValidatorUpdates are the consensus engine's power changes of an epoch boundary, in force
	// from height+2 (CometBFT's rule); empty in other blocks.
	ValidatorUpdates []ValidatorUpdate
	txs              [][]byte
	o                *overlay
	parent           common.Hash
}

// Execute runs txs as the next block with the given timestamp (clamped to the parent's) on an
// overlay and returns the block with its roots filled in, ready to be signed and committed. It
// fails only for a fatal condition (store error, escrow invariant); a failing transaction gets
// a failed receipt.
func (c *Chain) Execute(timestamp uint64, txs [][]byte) (*Pending, error) {
	return c.ExecuteBlock(timestamp, txs, nil)
}

// ExecuteBlock is Execute with the equivocation evidence the consensus engine reports for the
// block (validators.go): it is applied before the transactions.
func (c *Chain) ExecuteBlock(timestamp uint64, txs [][]byte, evidence []Misbehavior) (*Pending, error) {
	c.mu.RLock()
	hd := c.head
	c.mu.RUnlock()
	timestamp = max(timestamp, hd.Timestamp)
	x := &executor{c: c, o: newOverlay(c.db), height: hd.Height + 1, timestamp: timestamp}
	if err := x.tick(); err != nil {
		return nil, err
	}
	if err := x.validatorTick(evidence); err != nil {
		return nil, err
	}
	p := &Pending{txs: txs, o: x.o, parent: hd.Hash, ValidatorUpdates: x.valUpdates}
	hashes := make([]common.Hash, len(txs))
	for i, raw := range txs {
		hashes[i] = crypto.Keccak256Hash(raw)
		err := x.applyTx(raw)
		if errors.Is(err, errFatal) {
			return nil, err
		}
		r := Receipt{TxHash: hashes[i], OK: err == nil}
		if err != nil {
			r.Error = err.Error()
		}
		p.Receipts = append(p.Receipts, r)
		p.Errs = append(p.Errs, err)
	}
	if err := x.checkEscrow(); err != nil {
		return nil, err
	}
	if err := x.checkSupply(); err != nil {
		return nil, err
	}
	root, err := x.o.updateRoot()
	if err != nil {
		return nil, err
	}
	txRoot, err := rlp.EncodeToBytes(hashes)
	if err != nil {
		return nil, fmt.Errorf("chain: encoding tx hashes: %w", err)
	}
	rcpt, err := rlp.EncodeToBytes(p.Receipts)
	if err != nil {
		return nil, fmt.Errorf("chain: encoding receipts: %w", err)
	}
	p.Header = Header{ChainID: c.ChainID(), Height: x.height, Timestamp: timestamp, ParentHash: hd.Hash,
		Proposer: c.validator.Address(), TxRoot: crypto.Keccak256Hash(txRoot),
		ReceiptRoot: crypto.Keccak256Hash(rcpt), StateRoot: root}
	blockHash := p.Header.Hash()
	p.Events = append(x.events, Event{Kind: EventBlock, Number: x.height, Root: blockHash})
	for i := range p.Events {
		p.Events[i].Height, p.Events[i].Index = x.height, uint64(i)
	}
	return p, nil
}

// Commit writes p, sealed with the validator's signature sig over its header hash (none under
// ExternalConsensus), in one synced pebble batch: state, block, receipts, events and head land
// together or not at all.
// extra, if not nil, adds the caller's writes (the node's mempool deletions) to the same batch.
func (c *Chain) Commit(p *Pending, sig []byte, extra func(*pebble.Batch) error) error {
	h := p.Header.Hash()
	switch {
	case c.cfg.ExternalConsensus && len(sig) != 0:
		return fmt.Errorf("%w: block %d: a chain under external consensus takes no header signature", ErrBadHeaderSignature, p.Header.Height)
	case !c.cfg.ExternalConsensus:
		if err := c.validator.Verify(pqkey.ContextBlockHeader, c.ChainID(), p.Header.Height, h[:], sig); err != nil {
			return fmt.Errorf("%w: %w", ErrBadHeaderSignature, err)
		}
	}
	c.mu.RLock()
	parent, failed := c.head.Hash, c.committing != nil
	c.mu.RUnlock()
	if failed {
		return fmt.Errorf("chain: block %d: the store failed an earlier commit and takes no more", p.Header.Height)
	}
	if p.parent != parent {
		return fmt.Errorf("%w: pending block %d does not extend the head", ErrBadBlock, p.Header.Height)
	}
	batch := c.db.NewBatch()
	defer batch.Close()
	if err := p.o.flush(batch); err != nil {
		return err
	}
	hd := head{Height: p.Header.Height, Hash: h, Timestamp: p.Header.Timestamp, StateRoot: p.Header.StateRoot}
	if err := writeMeta(batch, &SealedBlock{Header: p.Header, Txs: p.txs, Sig: sig}, p.Receipts, p.Events, &hd); err != nil {
		return err
	}
	if extra != nil {
		if err := extra(batch); err != nil {
			return err
		}
	}
	// Queries go on reading the head's state until the batch is synced and the head names it.
	snap := c.db.NewSnapshot()
	c.mu.Lock()
	c.committing = snap
	c.mu.Unlock()
	err := c.commit(batch)
	if err != nil {
		// pebble may have made the batch readable before its sync failed: the queries keep
		// reading the snapshot, the last state the disk holds, until Close.
		return fmt.Errorf("chain: committing block %d: %w", hd.Height, err)
	}
	c.mu.Lock()
	c.head = hd
	c.committing = nil
	c.mu.Unlock()
	return snap.Close() // no query holds it: they read it under mu
}

// commit writes batch with a synced commit, through the Guard if there is one.
func (c *Chain) commit(batch *pebble.Batch) error {
	if c.cfg.Guard == nil {
		return batch.Commit(pebble.Sync)
	}
	return c.cfg.Guard.Commit(batch, pebble.Sync)
}

// Close releases what the chain holds of its store (the read view kept after a failed commit);
// call it before closing the store. The chain is not usable after it.
func (c *Chain) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committing == nil {
		return nil
	}
	err := c.committing.Close()
	c.committing = nil
	return err
}

// SignHeader is how a validator seals a header.
func SignHeader(k *pqkey.PrivateKey, h *Header) ([]byte, error) {
	hash := h.Hash()
	return k.Sign(pqkey.ContextBlockHeader, h.ChainID, h.Height, hash[:])
}

// Apply replays a sealed block: it checks the signature and linkage, executes the
// transactions, checks that every root of the header matches, and commits.
func (c *Chain) Apply(b *SealedBlock) (*Result, error) {
	height, hash, _, _ := c.Head()
	if b.Header.ChainID != c.ChainID() || b.Header.Height != height+1 || b.Header.ParentHash != hash ||
		b.Header.Proposer != c.validator.Address() {
		return nil, fmt.Errorf("%w: block %d does not extend head %d", ErrBadBlock, b.Header.Height, height)
	}
	p, err := c.Execute(b.Header.Timestamp, b.Txs)
	if err != nil {
		return nil, err
	}
	if p.Header != b.Header {
		return nil, fmt.Errorf("%w: block %d: executed state root %s, header %s", ErrStateRootMismatch,
			b.Header.Height, p.Header.StateRoot, b.Header.StateRoot)
	}
	if err := c.Commit(p, b.Sig, nil); err != nil {
		return nil, err
	}
	return &p.Result, nil
}
