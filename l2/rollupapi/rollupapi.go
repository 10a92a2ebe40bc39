// Package rollupapi holds the result types of the sequencer's JSON-RPC API (namespace rollup_,
// docs/sequencer.md). They live apart from l2/sequencer so that clients such as the wallet can
// decode replies without linking the sequencer and its native core.
package rollupapi

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Account is the result of rollup_getAccount. Proof holds the Merkle siblings of Index, leaf
// level first, against Root (docs §4.3); it verifies the empty leaf 0 when Exists is false. An
// ML-DSA-65 account's key is (0, kh): PubKeyX is zero and PubKeyY the hash of its ML-DSA public
// key (l2.MLDSAKeyHash).
type Account struct {
	Index   uint32         `json:"index"`
	Exists  bool           `json:"exists"`
	PubKeyX common.Hash    `json:"pubkeyX"`
	PubKeyY common.Hash    `json:"pubkeyY"`
	Balance hexutil.Uint64 `json:"balance"`
	Nonce   hexutil.Uint64 `json:"nonce"`
	Root    common.Hash    `json:"root"`
	Block   hexutil.Uint64 `json:"block"`
	Proof   []common.Hash  `json:"proof,omitempty"`
}

// Receipt is the result of rollup_getReceipt. Status is "pending" while the transaction waits
// in the mempool, "ok" once in a block (soft confirmation), a docs §7.1 status name when it was
// dropped at execution, or "evicted".
type Receipt struct {
	TxHash   common.Hash     `json:"txHash"`
	Status   string          `json:"status"`
	Included bool            `json:"included"`
	Block    *hexutil.Uint64 `json:"block,omitempty"`
	Position *hexutil.Uint64 `json:"position,omitempty"`
}

// Block is a block as rollup_getBlock and the newBlocks subscription show it. TxHashes are the
// keccak256 of each 160-byte record; Transactions (full blocks only) are each as
// rollup_sendTransaction takes it: the record, followed for an ML-DSA transaction (types 5, 6)
// by its 3,309-byte signature (l2.MLDSASigSize).
type Block struct {
	Number         hexutil.Uint64  `json:"number"`
	Hash           common.Hash     `json:"hash"`
	ParentHash     common.Hash     `json:"parentHash"`
	PrevRoot       common.Hash     `json:"prevRoot"`
	PostRoot       common.Hash     `json:"postRoot"`
	TraceRoot      common.Hash     `json:"traceRoot"`
	WithdrawalRoot common.Hash     `json:"withdrawalRoot"`
	DepositStart   hexutil.Uint64  `json:"depositStart"`
	DepositEnd     hexutil.Uint64  `json:"depositEnd"`
	TxCount        hexutil.Uint64  `json:"txCount"`
	Timestamp      hexutil.Uint64  `json:"timestamp"` // unix milliseconds
	TxsHash        common.Hash     `json:"txsHash"`   // keccak256 of the records (each binds its ML-DSA signature by w2)
	TxHashes       []common.Hash   `json:"txHashes"`
	Transactions   []hexutil.Bytes `json:"transactions,omitempty"`
}

// Status is the result of rollup_getStatus.
type Status struct {
	Head          hexutil.Uint64 `json:"head"`
	HeadHash      common.Hash    `json:"headHash"`
	Root          common.Hash    `json:"root"`
	DepositCursor hexutil.Uint64 `json:"depositCursor"` // next L1 queue index to include
	Pending       int            `json:"pending"`       // mempool size
	// Settlement is the settlement status of the block asked about (or the head): "soft" means
	// executed and durable at the sequencer (a soft confirmation), "committed" in batches the
	// L1 accepted, "final" in batches final on L1. Without a settlement engine
	// (Sequencer.SetSettlement) every block is "soft".
	Settlement string         `json:"settlement"`
	Block      hexutil.Uint64 `json:"block"`
	// Batch and LastBatch are the L1 batches holding the block once Settlement is "committed"
	// or "final" (omitted while "soft"): a batch may end inside a block, so the block's
	// transactions are in batches Batch..LastBatch, usually one.
	Batch     *hexutil.Uint64 `json:"batch,omitempty"`
	LastBatch *hexutil.Uint64 `json:"lastBatch,omitempty"`
}
