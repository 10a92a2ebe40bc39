package l1api

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// Limits checked before anything is decoded.
const (
	// MaxBatchDataSize is the largest decompressed batch in its interleaved form (docs/protocol.md
	// §5.4): MaxBatchTxs records of TxSize bytes and MaxBatchMLDSATxs ML-DSA signatures.
	MaxBatchDataSize = l2.MaxBatchDataSize
	// MaxTraceSize bounds the RLP of an optimistic batch's trace: MaxBatchTxs roots of 33 bytes
	// (field elements do not compress, so the trace is not in the zstd frame).
	MaxTraceSize = l2.MaxBatchTxs * 33
	// MaxTxSize bounds an encoded transaction: a batch whose zstd frame did not compress at all
	// (at most MaxBatchDataSize plus frame overhead), its trace, a proof, key and signature.
	MaxTxSize = MaxBatchDataSize + MaxTraceSize + 64<<10
	// MaxSequencers and MaxGuardians bound a rollup config; each guardian key is 1952 bytes.
	MaxSequencers = 16
	MaxGuardians  = 32
	// MaxProofSize bounds a validity or fraud proof (a Groth16 proof is 256 bytes; a fraud proof
	// carries a few Merkle witnesses of at most 32 siblings).
	MaxProofSize = 64 << 10
	// MaxFraudProofSize bounds the proof of a Challenge, checked before any batch data is read:
	// the judge's own bound (the largest proof, a step at tree depth 32, is 3,193 bytes).
	MaxFraudProofSize = fraud.MaxProofSize
)

// TxType names an L1 transaction type; each has its own signature context.
type TxType uint8

// L1 transaction types (docs/l1.md §2).
const (
	TxTransfer         TxType = 1
	TxRegisterRollup   TxType = 2
	TxDeposit          TxType = 3
	TxSubmitBatch      TxType = 4
	TxClaimWithdrawal  TxType = 5
	TxChallenge        TxType = 6
	TxExodusWithdrawal TxType = 7
	TxExodusRefund     TxType = 8
	TxGuardianAction   TxType = 9
	TxReleaseDelayed   TxType = 10
	TxConfigChange     TxType = 11
	TxValidatorJoin    TxType = 12
	TxValidatorStake   TxType = 13
	TxValidatorLeave   TxType = 14
)

var txContexts = map[TxType]pqkey.Context{
	TxTransfer:         pqkey.ContextTxTransfer,
	TxRegisterRollup:   pqkey.ContextTxRegisterRollup,
	TxDeposit:          pqkey.ContextTxDeposit,
	TxSubmitBatch:      pqkey.ContextTxSubmitBatch,
	TxClaimWithdrawal:  pqkey.ContextTxClaimWithdrawal,
	TxChallenge:        pqkey.ContextTxChallenge,
	TxExodusWithdrawal: pqkey.ContextTxExodusWithdrawal,
	TxExodusRefund:     pqkey.ContextTxExodusRefund,
	TxGuardianAction:   pqkey.ContextTxGuardianAction,
	TxReleaseDelayed:   pqkey.ContextTxReleaseDelayed,
	TxConfigChange:     pqkey.ContextTxConfigChange,
	TxValidatorJoin:    pqkey.ContextTxValidatorJoin,
	TxValidatorStake:   pqkey.ContextTxValidatorStake,
	TxValidatorLeave:   pqkey.ContextTxValidatorLeave,
}

// Context returns the signature context of the type, or false for an unknown type.
func (t TxType) Context() (pqkey.Context, bool) {
	c, ok := txContexts[t]
	return c, ok
}

// Tx is the signed L1 transaction envelope. Its RLP encoding is the wire and block format:
// [type, chainID, nonce, pubkey, payload, sig]. The signature is pqkey's over payload with the
// type's context, the chain ID and the sender's account nonce.
type Tx struct {
	Type    TxType
	ChainID uint64
	Nonce   uint64
	PubKey  []byte // ML-DSA-65 public key of the sender; the sender is its address
	Payload []byte // RLP of the type's payload struct
	Sig     []byte
}

// DecodedTx is a transaction whose envelope decoded and whose signature verified.
type DecodedTx struct {
	Tx
	Hash    common.Hash
	Sender  common.Address
	Size    int // bytes of the raw transaction, which its fee is charged on
	payload any
}

// Body is the decoded payload struct (*Transfer, *Deposit, ...), nil if DecodeTx did not build tx.
func (tx *DecodedTx) Body() any { return tx.payload }

// SignTx builds and signs a transaction of the given type and payload struct.
func SignTx(k *pqkey.PrivateKey, t TxType, chainID, nonce uint64, payload any) ([]byte, error) {
	ctx, ok := t.Context()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	p, err := rlp.EncodeToBytes(payload)
	if err != nil {
		return nil, fmt.Errorf("chain: encoding payload: %w", err)
	}
	sig, err := k.Sign(ctx, chainID, nonce, p)
	if err != nil {
		return nil, err
	}
	return rlp.EncodeToBytes(&Tx{Type: t, ChainID: chainID, Nonce: nonce, PubKey: k.Public().Bytes(), Payload: p, Sig: sig})
}

// DecodeTx decodes and authenticates a raw transaction for chainID: size bound, envelope, known
// type, chain ID, signature, payload. The account nonce is a state rule and is checked by Apply.
func DecodeTx(raw []byte, chainID uint64) (*DecodedTx, error) {
	if len(raw) > MaxTxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTxTooLarge, len(raw), MaxTxSize)
	}
	var tx Tx
	if err := rlp.DecodeBytes(raw, &tx); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrTxMalformed, err)
	}
	ctx, ok := tx.Type.Context()
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, tx.Type)
	}
	if tx.ChainID != chainID {
		return nil, fmt.Errorf("%w: transaction for chain %d, this is chain %d", ErrWrongChain, tx.ChainID, chainID)
	}
	pk, err := pqkey.ParsePublicKey(tx.PubKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := pk.Verify(ctx, tx.ChainID, tx.Nonce, tx.Payload, tx.Sig); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	payload, err := DecodePayload(tx.Type, tx.Payload)
	if err != nil {
		return nil, err
	}
	return &DecodedTx{Tx: tx, Hash: crypto.Keccak256Hash(raw), Sender: pk.Address(), Size: len(raw), payload: payload}, nil
}

// DecodePayload decodes the RLP payload of a transaction of type t into its struct (*Transfer,
// *Deposit, ...).
func DecodePayload(t TxType, b []byte) (any, error) {
	var p any
	switch t {
	case TxTransfer:
		p = new(Transfer)
	case TxRegisterRollup:
		p = new(RollupConfig)
	case TxDeposit:
		p = new(Deposit)
	case TxSubmitBatch:
		p = new(SubmitBatch)
	case TxClaimWithdrawal:
		p = new(ClaimWithdrawal)
	case TxChallenge:
		p = new(Challenge)
	case TxExodusWithdrawal:
		p = new(ExodusWithdrawal)
	case TxExodusRefund:
		p = new(ExodusRefund)
	case TxGuardianAction:
		p = new(GuardianAction)
	case TxReleaseDelayed:
		p = new(ReleaseDelayed)
	case TxConfigChange:
		p = new(ConfigChange)
	case TxValidatorJoin:
		p = new(ValidatorJoin)
	case TxValidatorStake:
		p = new(ValidatorStake)
	case TxValidatorLeave:
		p = new(ValidatorLeave)
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnknownType, t)
	}
	if err := rlp.DecodeBytes(b, p); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrTxMalformed, t, err)
	}
	return p, nil
}

func (t TxType) String() string {
	if c, ok := t.Context(); ok {
		return string(c)
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Transfer moves L1 balance between accounts.
type Transfer struct {
	To     common.Address
	Amount uint64
}

// GovernorConfig are a rollup's outflow limits (docs/l1.md §6). Zero disables a limit.
type GovernorConfig struct {
	WindowBlocks    uint64 // length of an outflow window in blocks (0: no governor at all)
	WindowCap       uint64 // outflow paid at once per window; beyond it withdrawals are delayed
	LargeWithdrawal uint64 // a withdrawal of at least this amount is delayed
	DelayBlocks     uint64 // how long a delayed withdrawal waits
	AnomalyFactor   uint64 // a window outflow above factor × baseline is anomalous
	EWMAShift       uint8  // baseline weight of a new window: 1/2^shift (1..16)
	WarmupWindows   uint64 // windows observed before the anomaly detector acts
}

// RollupConfig is the payload of register rollup.
type RollupConfig struct {
	L2ChainID             uint64
	VKHash                [32]byte
	TreeDepth             uint8
	BatchSize             uint64 // the circuit's slots B (≤ l2.MaxBatchTxs): a validity batch of n > B is proven as ⌈n/B⌉ ≤ l2.MaxChunks chunk proofs
	SequencerBond         uint64 // the sequencer stake backing every pending optimistic batch
	ChallengeWindow       uint64 // blocks
	ForcedInclusionWindow uint64 // blocks
	ExodusTimeout         uint64 // blocks without a finalized batch before the rollup freezes
	Governor              GovernorConfig
	Sequencers            []common.Address
	Guardians             [][]byte // ML-DSA-65 public keys
	GuardianThreshold     uint64
	// ChallengeBond is what a challenger posts with each fraud proof (0: none): returned with the
	// reward when the proof is upheld, burned when the judge rejects it. Optional in the RLP so
	// that configs encoded before it decode to 0.
	ChallengeBond uint64 `rlp:"optional"`
}

// Deposit escrows Amount and appends (pk, amount) to the rollup's deposit queue.
type Deposit struct {
	RollupID uint64
	Amount   uint64
	PKX, PKY [32]byte // the L2 public key credited: EdDSA (x != 0), or ML-DSA (0, MLDSAKeyHash)
	// MLDSAKey is the ML-DSA-65 public key (l2.MLDSAPubSize bytes) of an ML-DSA account: PKX must
	// then be 0 and PKY l2.MLDSAKeyHash(MLDSAKey) (both zero: L1 fills them), and L1 registers the
	// key under its hash (docs/l1.md §5). Optional in the RLP: EdDSA deposits leave it out.
	MLDSAKey []byte `rlp:"optional"`
}

// Batch modes.
const (
	ModeValidity   uint8 = 0
	ModeOptimistic uint8 = 1
)

// SubmitBatch settles one batch; the commitment fields are those of docs/protocol.md §8.6
// without the chain ID, which is the rollup's. An optimistic batch also publishes its trace
// (§8.2), so that a challenger can prove any entry against TraceRoot (§11).
type SubmitBatch struct {
	RollupID       uint64
	Mode           uint8
	Number         uint64
	PrevRoot       [32]byte
	NewRoot        [32]byte
	DepositsBefore [32]byte
	DepositsAfter  [32]byte
	WithdrawalRoot [32]byte
	DataHash       [32]byte
	TraceRoot      [32]byte
	TxCount        uint64
	Data           []byte     // zstd frame of the batch data (docs §5.2)
	Proof          []byte     // validity mode only: one proof, or for TxCount > BatchSize the RLP list of the chunk proofs (EncodeChunkProofs)
	Trace          [][32]byte // trace[0..TxCount), the roots after each transaction: optimistic mode, and validity batches of more than BatchSize
}

// ClaimWithdrawal pays wleaf[Index] of a finalized batch to Address.
type ClaimWithdrawal struct {
	RollupID uint64
	Batch    uint64
	Index    uint64
	Address  common.Address
	Amount   uint64
	Siblings [][32]byte // l2.ListDepth siblings, leaf level first
}

// Challenge submits a fraud proof against a pending optimistic batch.
type Challenge struct {
	RollupID uint64
	Batch    uint64
	Proof    []byte
}

// ExodusWithdrawal pays an account's balance in the last finalized root of a frozen rollup.
type ExodusWithdrawal struct {
	RollupID  uint64
	Index     uint32
	PKX, PKY  [32]byte
	Balance   uint64
	L2Nonce   uint64
	Siblings  [][32]byte // TreeDepth siblings
	Recipient common.Address
	SigRX     [32]byte
	SigRY     [32]byte
	SigS      [32]byte
	// MLDSASig is the exodus signature of an ML-DSA account (PKX = 0), SignExodusMLDSA's, verified
	// under the key L1 registered for PKY; SigRX, SigRY and SigS are then zero. Optional in the RLP.
	MLDSASig []byte `rlp:"optional"`
}

// ExodusRefund returns a deposit that no finalized batch consumed to its depositor, once the
// rollup is frozen.
type ExodusRefund struct {
	RollupID uint64
	Index    uint64 // queue index
}

// Guardian actions.
const (
	ActionPause   uint8 = 1
	ActionUnpause uint8 = 2
)

// GuardianSig is one guardian's signature over GuardianMessage.
type GuardianSig struct {
	Guardian uint64 // index in the rollup's guardian set
	Sig      []byte
}

// GuardianAction pauses or unpauses a rollup with k-of-n guardian signatures.
type GuardianAction struct {
	RollupID uint64
	Action   uint8
	Nonce    uint64 // the rollup's guardian nonce
	Sigs     []GuardianSig
}

// GuardianMessage is what each guardian signs with pqkey.ContextGuardianPause, the L1 chain ID
// and the rollup's guardian nonce.
type GuardianMessage struct {
	RollupID uint64
	Action   uint8
}

// ReleaseDelayed pays a delayed withdrawal whose delay has passed.
type ReleaseDelayed struct {
	RollupID uint64
	ID       uint64
}
