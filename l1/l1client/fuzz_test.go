package l1client

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// replyTypes is what each endpoint's reply decodes into, as the client's methods decode it,
// with a typical value to seed the fuzzers.
var replyTypes = []struct {
	method string
	seed   any
	out    func() any
}{
	{node.MethodSubmitTx, common.Hash{0xab, 31: 1}, func() any { return new(common.Hash) }},
	{node.MethodAccount, &chain.Account{Nonce: 3, Balance: 1 << 40}, func() any { return new(chain.Account) }},
	{node.MethodRollup, &chain.Rollup{ID: 1, Config: chain.RollupConfig{L2ChainID: 7, TreeDepth: 24, BatchSize: 16,
		Governor: chain.GovernorConfig{WindowBlocks: 10, EWMAShift: 4}, Sequencers: []common.Address{{1}}, Guardians: [][]byte{{2, 3}},
		GuardianThreshold: 1}, Paused: true, QueueLen: 2, QueueChain: [32]byte{9}, HeadNumber: 3, Escrow: 5,
		Gov: chain.GovernorState{Window: 1, Outflow: 2}}, func() any { return new(chain.Rollup) }},
	{node.MethodBatch, &chain.BatchRecord{Number: 2, Mode: 1, NewRoot: [32]byte{1}, TxCount: 16, Submitter: common.Address{4},
		Bond: 1000, FinalizeAt: 12}, func() any { return new(chain.BatchRecord) }},
	{node.MethodBatchData, []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58}, func() any { return new([]byte) }},
	{node.MethodBatchTrace, [][32]byte{{1}, {2}, {31: 3}}, func() any { return new([][32]byte) }},
	{node.MethodDeposit, &chain.DepositEntry{Chain: [32]byte{5}, Height: 9, Depositor: common.Address{6}, Amount: 100,
		PKX: [32]byte{7}, PKY: [32]byte{8}}, func() any { return new(chain.DepositEntry) }},
	{node.MethodExited, true, func() any { return new(bool) }},
	{node.MethodRefunded, false, func() any { return new(bool) }},
	{node.MethodClaimed, true, func() any { return new(bool) }},
	{node.MethodDelayed, &chain.WithdrawalStatus{Claimed: true, Delayed: true, DelayedID: 2, ReleaseAt: 40, Reason: "large",
		Amount: 3000, Recipient: common.Address{5}}, func() any { return new(chain.WithdrawalStatus) }},
	{node.MethodReserves, &chain.Reserves{RollupID: 1, On: true, FinalNumber: 2, HeadNumber: 3, Escrow: 7477, Deposited: 10_577,
		Paid: 3100, Unconsumed: 77, Supply: 7400, HeadSupply: 7200, Totals: chain.ReserveTotals{On: true, FinalDeposits: 10_500,
			FinalWithdrawn: 3100, Claimed: 3100}, Holds: true, Derivation: "escrow 7477 = …"}, func() any { return new(chain.Reserves) }},
	{node.MethodStatus, &node.StatusReply{ChainID: 1, Height: 42, BlockHash: common.Hash{1}, StateRoot: common.Hash{2},
		Timestamp: 1700000000, MempoolTxs: 3, RollupCount: 1}, func() any { return new(node.StatusReply) }},
	{node.MethodBlock, &chain.SealedBlock{Header: chain.Header{ChainID: 1, Height: 5, ParentHash: common.Hash{3}},
		Txs: [][]byte{{0xc0}, {1, 2, 3}}, Sig: []byte{4, 5}}, func() any { return new(chain.SealedBlock) }},
	{node.MethodReceipts, []chain.Receipt{{TxHash: common.Hash{1}, OK: true}, {TxHash: common.Hash{2}, Error: "chain: bad nonce"}},
		func() any { return new([]chain.Receipt) }},
}

func seedEvents() []chain.Event {
	return []chain.Event{
		{Height: 4, Index: 0, Kind: chain.EventDeposit, RollupID: 1, Number: 2, Amount: 100, Address: common.Address{1}, Root: common.Hash{2}, TxHash: common.Hash{3}},
		{Height: 4, Index: 1, Kind: chain.EventBlock, Root: common.Hash{4}},
	}
}

// FuzzDecodeReply feeds arbitrary signed-reply payloads to the client's decoding of every
// endpoint's reply (a validator's signature says who sent a reply, not that it is well formed):
// it never panics, a rejection is quicrpc.ErrMalformed naming the method, and an accepted payload
// is the canonical encoding of what it decoded to.
func FuzzDecodeReply(f *testing.F) {
	for _, r := range replyTypes {
		b, err := rlp.EncodeToBytes(r.seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range replyTypes {
			out := r.out()
			if err := decodeReply(r.method, b, out); err != nil {
				if !errors.Is(err, quicrpc.ErrMalformed) || !strings.Contains(err.Error(), r.method) {
					t.Fatalf("%s: rejection %q is not ErrMalformed naming the method", r.method, err)
				}
				continue
			}
			again, err := rlp.EncodeToBytes(out)
			if err != nil {
				t.Fatalf("%s: re-encoding an accepted reply: %v", r.method, err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("%s: accepted %x, which re-encodes as %x", r.method, b, again)
			}
		}
	})
}

// FuzzDecodeEvents does the same for the messages of an event subscription.
func FuzzDecodeEvents(f *testing.F) {
	b, err := rlp.EncodeToBytes(seedEvents())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-2])
	f.Add([]byte{0xc0})
	f.Add([]byte{0xc1, 0xc0})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeEvents(b)
		if err != nil {
			if !errors.Is(err, quicrpc.ErrMalformed) || !strings.Contains(err.Error(), node.MethodEvents) {
				t.Fatalf("rejection %q is not ErrMalformed naming %s", err, node.MethodEvents)
			}
			return
		}
		again, err := rlp.EncodeToBytes(evs)
		if err != nil {
			t.Fatalf("re-encoding %d accepted events: %v", len(evs), err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
	})
}

// TestDecodeReplyRoundTrip pins the seeds: each decodes into its endpoint's type and back.
func TestDecodeReplyRoundTrip(t *testing.T) {
	for _, r := range replyTypes {
		b, err := rlp.EncodeToBytes(r.seed)
		if err != nil {
			t.Fatal(err)
		}
		out := r.out()
		if err := decodeReply(r.method, b, out); err != nil {
			t.Fatalf("%s: %v", r.method, err)
		}
		if again, _ := rlp.EncodeToBytes(out); !bytes.Equal(again, b) {
			t.Fatalf("%s: %x re-encodes as %x", r.method, b, again)
		}
		err = decodeReply(r.method, b[:len(b)-1], r.out())
		if !errors.Is(err, quicrpc.ErrMalformed) || !strings.Contains(err.Error(), "l1client: "+r.method+": reply") {
			t.Fatalf("%s: truncated reply: %v", r.method, err)
		}
	}
	b, err := rlp.EncodeToBytes(seedEvents())
	if err != nil {
		t.Fatal(err)
	}
	evs, err := decodeEvents(b)
	if err != nil || len(evs) != 2 || evs[0].Kind != chain.EventDeposit || evs[1].Root != (common.Hash{4}) {
		t.Fatalf("events %+v %v", evs, err)
	}
}
