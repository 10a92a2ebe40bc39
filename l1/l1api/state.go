package l1api

import "github.com/ethereum/go-ethereum/common"

// Account is an L1 account.
type Account struct {
	Nonce   uint64
	Balance uint64
}

// Rollup is a registered rollup and everything L1 tracks about it.
type Rollup struct {
	ID            uint64
	Config        RollupConfig
	RegisteredAt  uint64
	Paused        bool
	Frozen        bool
	FrozenAt      uint64
	GuardianNonce uint64

	QueueLen   uint64   // deposits ever queued
	QueueChain [32]byte // dq[QueueLen]

	HeadNumber   uint64   // last accepted batch, pending or final (0: none)
	HeadRoot     [32]byte // its new root (the empty tree's root before any batch)
	HeadConsumed uint64   // deposits consumed through the head batch

	FinalNumber   uint64
	FinalRoot     [32]byte
	FinalConsumed uint64
	FinalHeight   uint64 // height of the last finalization (registration height before any)

	Deposited uint64 // total ever escrowed
	Paid      uint64 // total ever paid out of escrow
	Escrow    uint64 // Deposited - Paid, checked after every block

	Gov          GovernorState
	DelayedCount uint64 // delayed withdrawals ever queued (their ids)

	// Stake is the sequencer stake locked by Staker (docs/l1.md §5): one stake backs every
	// pending optimistic batch; it is slashed once by an upheld fraud proof and released when
	// no batch is pending. Optional in the RLP so that rollups stored before it decode to 0.
	Staker common.Address `rlp:"optional"`
	Stake  uint64         `rlp:"optional"`
	// DelayedPending and DelayedAmount are the withdrawals waiting in the delay queue (not yet
	// released) and their total; the amount is still in Escrow.
	DelayedPending uint64 `rlp:"optional"`
	DelayedAmount  uint64 `rlp:"optional"`
	// Res are the proof-of-reserves totals (reserves.go), tracked from registration; a rollup
	// stored before them decodes with Res.On false and is not checked.
	Res ReserveTotals `rlp:"optional"`
	// Pending is a guardian-signed config change waiting for its activation height (config.go);
	// nil when none. Optional in the RLP for rollups stored before it.
	Pending *PendingConfig `rlp:"optional"`
}

// DepositEntry is entry j of a deposit queue.
type DepositEntry struct {
	Chain     [32]byte // dq[j+1]
	Height    uint64   // block that queued it: the forced-inclusion clock starts here
	Depositor common.Address
	Amount    uint64
	PKX, PKY  [32]byte
}

// BatchRecord is an accepted batch.
type BatchRecord struct {
	Number         uint64
	Mode           uint8
	PrevRoot       [32]byte
	NewRoot        [32]byte
	DepositsBefore [32]byte
	DepositsAfter  [32]byte
	WithdrawalRoot [32]byte
	DataHash       [32]byte
	TraceRoot      [32]byte
	TxCount        uint64
	Submitter      common.Address
	Bond           uint64 // a per-batch bond of records stored before the rollup stake (now 0)
	SubmittedAt    uint64
	FinalizeAt     uint64 // the first height at which it may finalize (after its predecessors)
	ConsumedBefore uint64
	ConsumedAfter  uint64
	// DepositAmount and WithdrawAmount are the batch's consumed deposits (deposits and refunds)
	// and committed withdrawals (withdraws and refunds), summed from its data at submission
	// (proof of reserves). Optional in the RLP for older records.
	DepositAmount  uint64 `rlp:"optional"`
	WithdrawAmount uint64 `rlp:"optional"`
}

// DelayedWithdrawal waits in a rollup's delay queue until ReleaseAt.
type DelayedWithdrawal struct {
	ID        uint64
	Recipient common.Address
	Amount    uint64
	ReleaseAt uint64
	Reason    string
	// Released is set by the ReleaseDelayed that paid it, at height ReleasedAt; the record stays
	// so that a second release is refused by name. Optional in the RLP for older records.
	Released   bool   `rlp:"optional"`
	ReleasedAt uint64 `rlp:"optional"`
}

// GovernorState is a rollup's outflow accounting: the current window, what it paid out, and an
// exponentially weighted moving average of past windows' outflow (integer math only).
type GovernorState struct {
	Window   uint64 // height / WindowBlocks of the current window
	Outflow  uint64 // paid at once in the current window
	Baseline uint64 // EWMA of closed windows' outflow
	Windows  uint64 // closed windows observed
}
