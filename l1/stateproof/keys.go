package stateproof

import (
	"encoding/binary"

	"github.com/ethereum/go-ethereum/common"
)

// PrefixState prefixes every state key; the state root covers exactly the keys under it.
const PrefixState = "s/"

// u64key is prefix followed by ns, big-endian, '/'-separated, so keys sort by number.
func u64key(prefix string, ns ...uint64) []byte {
	b := []byte(prefix)
	for i, n := range ns {
		if i > 0 {
			b = append(b, '/')
		}
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

// The state keys (docs/l1.md §4): l1/chain stores its state under them and a client asks
// l1_proveState for them.
func AccountKey(a common.Address) []byte     { return append([]byte(PrefixState+"acct/"), a[:]...) }
func RollupCountKey() []byte                 { return []byte(PrefixState + "rollups") }
func RollupKey(id uint64) []byte             { return u64key(PrefixState+"rollup/", id) }
func L2ChainKey(l2 uint64) []byte            { return u64key(PrefixState+"l2chain/", l2) }
func DepositKey(id, j uint64) []byte         { return u64key(PrefixState+"dq/", id, j) }
func BatchKey(id, n uint64) []byte           { return u64key(PrefixState+"batch/", id, n) }
func BatchDataKey(id, n uint64) []byte       { return u64key(PrefixState+"bdata/", id, n) }
func BatchTraceKey(id, n uint64) []byte      { return u64key(PrefixState+"btrace/", id, n) }
func ClaimKey(id, n, k uint64) []byte        { return u64key(PrefixState+"claim/", id, n, k) }
func ExitKey(id uint64, idx uint32) []byte   { return u64key(PrefixState+"exit/", id, uint64(idx)) }
func RefundKey(id, j uint64) []byte          { return u64key(PrefixState+"refund/", id, j) }
func DelayedKey(id, n uint64) []byte         { return u64key(PrefixState+"delayed/", id, n) }
func ClaimDelayedKey(id, n, k uint64) []byte { return u64key(PrefixState+"claimdelay/", id, n, k) }
func GlobalKey() []byte                      { return []byte(PrefixState + "global") }
func FeesKey() []byte                        { return []byte(PrefixState + "fees") }
func ValidatorsKey() []byte                  { return []byte(PrefixState + "validators") }
func ValidatorSetKey(from uint64) []byte     { return u64key(PrefixState+"valset/", from) }
