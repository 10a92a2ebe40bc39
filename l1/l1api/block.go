package l1api

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Header is a block header. Its hash is keccak256 of its RLP; the validator signs that hash with
// pqkey.ContextBlockHeader, the chain ID and the height as nonce.
type Header struct {
	ChainID     uint64
	Height      uint64
	Timestamp   uint64 // set by the block producer; non-decreasing; the state machine reads no clock
	ParentHash  common.Hash
	Proposer    common.Address
	TxRoot      common.Hash // keccak256 of the RLP list of transaction hashes
	ReceiptRoot common.Hash // keccak256 of the RLP of the receipts
	StateRoot   common.Hash // state root after the block (docs/l1.md §4)
}

// Hash is the block hash.
func (h *Header) Hash() common.Hash {
	b, err := rlp.EncodeToBytes(h)
	if err != nil {
		panic(err) // a struct of fixed-size fields always encodes
	}
	return crypto.Keccak256Hash(b)
}

// SealedBlock is a block as stored and as replayed: header, raw transactions, signature.
type SealedBlock struct {
	Header Header
	Txs    [][]byte
	Sig    []byte
}

// Receipt is the outcome of one transaction of a block.
type Receipt struct {
	TxHash common.Hash
	OK     bool
	Error  string
}

// EventKind names an event of the log.
type EventKind uint8

// Event kinds.
const (
	EventBlock EventKind = iota + 1
	EventRollupRegistered
	EventDeposit
	EventBatchSubmitted
	EventBatchFinalized
	EventBatchReverted
	EventChallengeUpheld
	EventWithdrawalPaid
	EventWithdrawalDelayed
	EventRollupFrozen
	EventExodus
	EventDepositRefunded
	EventPaused
	EventUnpaused
	EventChallengeRejected // the judge rejected a challenge: Amount is the bond burned, Address the challenger
	EventConfigQueued      // a config change was queued: Number is its activation height, Root its config hash
	EventConfigActivated   // a queued config change applied: Number is the height, Root its config hash
	EventValidatorChange   // a join, stake change or leave was queued: Address the validator, Amount its stake from the next epoch
	EventValidatorSet      // an epoch boundary changed the set: Number the height it is in force from, Amount its total stake
	EventValidatorSlashed  // equivocation evidence: Address the validator, Amount the stake burned, Number the evidence height
	EventStakeReleased     // unbonded stake paid back: Address the validator, Amount
)

var eventNames = [...]string{EventBlock: "block", EventRollupRegistered: "rollup_registered", EventDeposit: "deposit",
	EventBatchSubmitted: "batch_submitted", EventBatchFinalized: "batch_finalized", EventBatchReverted: "batch_reverted",
	EventChallengeUpheld: "challenge_upheld", EventWithdrawalPaid: "withdrawal_paid", EventWithdrawalDelayed: "withdrawal_delayed",
	EventRollupFrozen: "rollup_frozen", EventExodus: "exodus", EventDepositRefunded: "deposit_refunded", EventPaused: "paused",
	EventUnpaused: "unpaused", EventChallengeRejected: "challenge_rejected", EventConfigQueued: "config_queued",
	EventConfigActivated: "config_activated", EventValidatorChange: "validator_change", EventValidatorSet: "validator_set",
	EventValidatorSlashed: "validator_slashed", EventStakeReleased: "stake_released"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one entry of the event log (subscriptions resume from a height).
type Event struct {
	Height   uint64
	Index    uint64
	Kind     EventKind
	RollupID uint64
	Number   uint64 // batch number, deposit index, delayed id, account index, per kind
	Amount   uint64 // amount paid or queued; for a submitted batch its mode
	Address  common.Address
	Root     common.Hash // new root (batch), block hash (block), deposit chain (deposit)
	TxHash   common.Hash
}
