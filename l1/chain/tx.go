package chain

import (
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// The transaction envelope, types and payloads are package l1api's, which clients import
// without linking the state machine (docs/l1.md §6); these aliases keep their names here.
const (
	MaxBatchDataSize  = l1api.MaxBatchDataSize
	MaxTraceSize      = l1api.MaxTraceSize
	MaxTxSize         = l1api.MaxTxSize
	MaxSequencers     = l1api.MaxSequencers
	MaxGuardians      = l1api.MaxGuardians
	MaxProofSize      = l1api.MaxProofSize
	MaxFraudProofSize = l1api.MaxFraudProofSize
)

type TxType = l1api.TxType

const (
	TxTransfer         = l1api.TxTransfer
	TxRegisterRollup   = l1api.TxRegisterRollup
	TxDeposit          = l1api.TxDeposit
	TxSubmitBatch      = l1api.TxSubmitBatch
	TxClaimWithdrawal  = l1api.TxClaimWithdrawal
	TxChallenge        = l1api.TxChallenge
	TxExodusWithdrawal = l1api.TxExodusWithdrawal
	TxExodusRefund     = l1api.TxExodusRefund
	TxGuardianAction   = l1api.TxGuardianAction
	TxReleaseDelayed   = l1api.TxReleaseDelayed
	TxConfigChange     = l1api.TxConfigChange
	TxValidatorJoin    = l1api.TxValidatorJoin
	TxValidatorStake   = l1api.TxValidatorStake
	TxValidatorLeave   = l1api.TxValidatorLeave
)

type Tx = l1api.Tx

type DecodedTx = l1api.DecodedTx

// SignTx is l1api.SignTx.
func SignTx(k *pqkey.PrivateKey, t TxType, chainID, nonce uint64, payload any) ([]byte, error) {
	return l1api.SignTx(k, t, chainID, nonce, payload)
}

// decodePayload is l1api.DecodePayload.
func decodePayload(t TxType, b []byte) (any, error) { return l1api.DecodePayload(t, b) }

// DecodeTx is l1api.DecodeTx.
func DecodeTx(raw []byte, chainID uint64) (*DecodedTx, error) { return l1api.DecodeTx(raw, chainID) }

type Transfer = l1api.Transfer

type GovernorConfig = l1api.GovernorConfig

type RollupConfig = l1api.RollupConfig

type Deposit = l1api.Deposit

const (
	ModeValidity   = l1api.ModeValidity
	ModeOptimistic = l1api.ModeOptimistic
)

type SubmitBatch = l1api.SubmitBatch

type ClaimWithdrawal = l1api.ClaimWithdrawal

type Challenge = l1api.Challenge

type ExodusWithdrawal = l1api.ExodusWithdrawal

type ExodusRefund = l1api.ExodusRefund

const (
	ActionPause   = l1api.ActionPause
	ActionUnpause = l1api.ActionUnpause
)

type GuardianSig = l1api.GuardianSig

type GuardianAction = l1api.GuardianAction

type GuardianMessage = l1api.GuardianMessage

type ReleaseDelayed = l1api.ReleaseDelayed
