package chain

import "github.com/pqbridge/pqbridge/l1/l1api"

type Account = l1api.Account

type Rollup = l1api.Rollup

type DepositEntry = l1api.DepositEntry

type BatchRecord = l1api.BatchRecord

type DelayedWithdrawal = l1api.DelayedWithdrawal

// Global are chain-wide totals, so that supply can be audited: the sum of all balances plus
// every escrow, every locked bond and Burned equals the genesis allocation.
type Global struct {
	Bonded uint64
	Burned uint64
}
