package chain

import "github.com/pqbridge/pqbridge/l1/l1api"

// The errors are package l1api's, so that clients match them with errors.Is without linking
// the state machine (docs/l1.md §6).
var (
	ErrTxTooLarge         = l1api.ErrTxTooLarge
	ErrTxMalformed        = l1api.ErrTxMalformed
	ErrUnknownType        = l1api.ErrUnknownType
	ErrWrongChain         = l1api.ErrWrongChain
	ErrBadSignature       = l1api.ErrBadSignature
	ErrBadNonce           = l1api.ErrBadNonce
	ErrInsufficientFunds  = l1api.ErrInsufficientFunds
	ErrOverflow           = l1api.ErrOverflow
	ErrBadConfig          = l1api.ErrBadConfig
	ErrDuplicateChainID   = l1api.ErrDuplicateChainID
	ErrUnknownRollup      = l1api.ErrUnknownRollup
	ErrBadL2Key           = l1api.ErrBadL2Key
	ErrPaused             = l1api.ErrPaused
	ErrFrozen             = l1api.ErrFrozen
	ErrNotFrozen          = l1api.ErrNotFrozen
	ErrNotSequencer       = l1api.ErrNotSequencer
	ErrBadMode            = l1api.ErrBadMode
	ErrBatchNumber        = l1api.ErrBatchNumber
	ErrPrevRoot           = l1api.ErrPrevRoot
	ErrBatchData          = l1api.ErrBatchData
	ErrDataHash           = l1api.ErrDataHash
	ErrTrace              = l1api.ErrTrace
	ErrTxCount            = l1api.ErrTxCount
	ErrDepositMismatch    = l1api.ErrDepositMismatch
	ErrForcedInclusion    = l1api.ErrForcedInclusion
	ErrNoVerifier         = l1api.ErrNoVerifier
	ErrBadProof           = l1api.ErrBadProof
	ErrChunkedBatch       = l1api.ErrChunkedBatch
	ErrNotFinal           = l1api.ErrNotFinal
	ErrNotPending         = l1api.ErrNotPending
	ErrAlreadyClaimed     = l1api.ErrAlreadyClaimed
	ErrBadMerkleProof     = l1api.ErrBadMerkleProof
	ErrFraudNotProven     = l1api.ErrFraudNotProven
	ErrNoJudge            = l1api.ErrNoJudge
	ErrGuardianQuorum     = l1api.ErrGuardianQuorum
	ErrBadGuardianNonce   = l1api.ErrBadGuardianNonce
	ErrBadAction          = l1api.ErrBadAction
	ErrConfigImmutable    = l1api.ErrConfigImmutable
	ErrUnknownDelayed     = l1api.ErrUnknownDelayed
	ErrNotDue             = l1api.ErrNotDue
	ErrAlreadyReleased    = l1api.ErrAlreadyReleased
	ErrAlreadyExited      = l1api.ErrAlreadyExited
	ErrBadL2Signature     = l1api.ErrBadL2Signature
	ErrNotRefundable      = l1api.ErrNotRefundable
	ErrEscrowShort        = l1api.ErrEscrowShort
	ErrBadBlock           = l1api.ErrBadBlock
	ErrStateRootMismatch  = l1api.ErrStateRootMismatch
	ErrEscrowInvariant    = l1api.ErrEscrowInvariant
	ErrSupplyInvariant    = l1api.ErrSupplyInvariant
	ErrCorruptStore       = l1api.ErrCorruptStore
	ErrNotFound           = l1api.ErrNotFound
	ErrBadHeaderSignature = l1api.ErrBadHeaderSignature
	ErrNoValidatorSet     = l1api.ErrNoValidatorSet
	ErrNotValidator       = l1api.ErrNotValidator
	ErrAlreadyValidator   = l1api.ErrAlreadyValidator
	ErrJailed             = l1api.ErrJailed
	ErrStakeTooLow        = l1api.ErrStakeTooLow
	ErrBadConsensusKey    = l1api.ErrBadConsensusKey
	ErrTooManyValidators  = l1api.ErrTooManyValidators
	ErrStakeConcentration = l1api.ErrStakeConcentration
	ErrLastValidator      = l1api.ErrLastValidator
)
