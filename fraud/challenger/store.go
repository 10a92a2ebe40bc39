package challenger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l2"
)

// The store: the cursor, the agreed batch with its identity and root, the agreed state's
// accounts one key each (agreeing with a batch writes only the accounts it changed), and the
// challenge transactions not yet known to be used, one key per nonce.
var (
	keyCursor       = []byte("m/cursor") // RLP cursor
	keyAgreed       = []byte("m/agreed") // RLP agreedRecord
	prefixAccount   = []byte("a/")       // + index (u32 big-endian): RLP storedAccount
	prefixChallenge = []byte("c/")       // + nonce (u64 big-endian): RLP challengeTx
	// keyWholeState held the whole agreed state in one value before the store kept it account
	// by account; such a store is refused rather than read as an empty state.
	keyWholeState = []byte("m/state")
)

// cursor is the next L1 block of the event log to read. Index is always 0 now that a block's
// events are handled together; a store whose cursor stopped inside a block reads that block
// again from its start, which is harmless: handling is idempotent (a batch at or below the
// agreed one is skipped, a revert of a batch not agreed changes nothing stored).
type cursor struct{ Height, Index uint64 }

// agreedRecord is the last batch the state agrees with: its number, its submission height (with
// the number, the batch's identity: a reposted batch of the same number is another batch) and
// its new root. SubmittedAt is 0 in a store written before it was kept.
type agreedRecord struct {
	Agreed      uint64
	Root        [32]byte
	SubmittedAt uint64 `rlp:"optional"`
}

type storedAccount struct {
	PKX, PKY       [32]byte
	Balance, Nonce uint64
}

func accountKey(i uint32) []byte { return binary.BigEndian.AppendUint32(bytes.Clone(prefixAccount), i) }

func challengeKey(nonce uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(prefixChallenge), nonce)
}

// upperBound is the first key after every key of prefix (whose last byte is '/').
func upperBound(prefix []byte) []byte {
	u := bytes.Clone(prefix)
	u[len(u)-1]++
	return u
}

// restore reads the cursor, the agreed state and the challenge transactions from the store and
// opens the executor on the state: what was in memory is dropped.
func (c *Challenger) restore() error {
	if _, closer, err := c.db.Get(keyWholeState); err == nil {
		return errors.Join(errors.New("challenger: the store was written by an older challenger (whole state in m/state): start from an empty directory"), closer.Close())
	}
	var cur cursor
	if err := c.get(keyCursor, &cur); err != nil {
		return fmt.Errorf("challenger: corrupt cursor: %w", err)
	}
	txs, err := c.storedChallenges()
	if err != nil {
		return err
	}
	// seen stays: the events of the blocks handled are not read again (resync clears it).
	c.run = runState{cursor: cur.Height, exec: c.run.exec, txs: txs, storedTxs: len(txs), seen: c.run.seen}
	if err := c.openExec(); err != nil {
		return err
	}
	c.setStatus(func(s *Status) {
		s.Cursor, s.Waiting, s.Challenged = cur.Height, nil, c.run.liveBatch()
	})
	return nil
}

// openExec opens the executor on the agreed state as stored: at start, or after the executor
// applied a batch the challenger does not agree with.
func (c *Challenger) openExec() error {
	if c.run.exec != nil {
		if err := c.run.exec.close(); err != nil {
			c.log.Warn("challenger: closing the executor", "err", err)
		}
		c.run.exec = nil
	}
	var a agreedRecord
	root := l2.EmptySubtree(c.depth)
	if err := c.get(keyAgreed, &a); err != nil {
		return fmt.Errorf("challenger: corrupt agreed state: %w", err)
	}
	if a.Agreed > 0 {
		var err error
		if root, err = element(a.Root); err != nil {
			return err
		}
	}
	accounts, err := c.storedAccounts()
	if err != nil {
		return err
	}
	exec, err := openExecutor(c.cfg.Executor, c.depth, c.l2ChainID, accounts, root)
	if err != nil {
		return err
	}
	c.run.exec, c.run.agreed, c.run.changed = exec, batchID{a.Agreed, a.SubmittedAt}, nil
	c.setStatus(func(s *Status) { s.Agreed, s.AgreedRoot = a.Agreed, root })
	return nil
}

// get decodes the value of key into v; a missing key leaves v as it is.
func (c *Challenger) get(key []byte, v any) error {
	b, closer, err := c.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return errors.Join(rlp.DecodeBytes(b, v), closer.Close())
}

// storedAccounts reads the agreed state's accounts, by increasing index.
func (c *Challenger) storedAccounts() ([]l2.IndexedAccount, error) {
	it, err := c.db.NewIter(&pebble.IterOptions{LowerBound: prefixAccount, UpperBound: upperBound(prefixAccount)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []l2.IndexedAccount
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		var s storedAccount
		if len(k) != len(prefixAccount)+4 || rlp.DecodeBytes(it.Value(), &s) != nil {
			return nil, fmt.Errorf("challenger: corrupt account %x in the store", k)
		}
		var a l2.IndexedAccount
		a.Index = binary.BigEndian.Uint32(k[len(prefixAccount):])
		if a.Account.PubKey.X, err = element(s.PKX); err != nil {
			return nil, err
		}
		if a.Account.PubKey.Y, err = element(s.PKY); err != nil {
			return nil, err
		}
		a.Account.Balance, a.Account.Nonce = s.Balance, s.Nonce
		out = append(out, a)
	}
	return out, it.Error()
}

// storedChallenges reads the challenge transactions, by increasing nonce.
func (c *Challenger) storedChallenges() ([]*challengeTx, error) {
	it, err := c.db.NewIter(&pebble.IterOptions{LowerBound: prefixChallenge, UpperBound: upperBound(prefixChallenge)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []*challengeTx
	for it.First(); it.Valid(); it.Next() {
		tx := new(challengeTx)
		if err := rlp.DecodeBytes(it.Value(), tx); err != nil {
			return nil, fmt.Errorf("challenger: corrupt challenge transaction %x in the store: %w", it.Key(), err)
		}
		out = append(out, tx)
	}
	return out, it.Error()
}

// element reads a word of the store (the core's words are read by ffi.Element).
func element(b [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		return e, fmt.Errorf("challenger: non-canonical field element: %w", err)
	}
	return e, nil
}

// save writes, in one synced batch, the cursor next, the agreed state if it moved (the agreed
// batch, its root and the accounts it changed) and the challenge transactions as they are in
// memory. A failed write leaves memory ahead of the store: the caller restores.
func (c *Challenger) save(next uint64, stateMoved bool) error {
	b := c.db.NewBatch()
	defer b.Close()
	if err := setRLP(b, keyCursor, &cursor{Height: next}); err != nil {
		return err
	}
	if stateMoved {
		if err := c.saveState(b); err != nil {
			return err
		}
	}
	if len(c.run.txs) > 0 || c.run.storedTxs > 0 { // rare: no range deletion on every block
		if err := b.DeleteRange(prefixChallenge, upperBound(prefixChallenge), nil); err != nil {
			return err
		}
		for _, tx := range c.run.txs {
			if err := setRLP(b, challengeKey(tx.Nonce), tx); err != nil {
				return err
			}
		}
	}
	if err := c.guard.Commit(b, pebble.Sync); err != nil {
		return fmt.Errorf("challenger: writing the store: %w", err)
	}
	c.run.cursor, c.run.changed, c.run.storedTxs = next, nil, len(c.run.txs)
	c.setStatus(func(s *Status) { s.Cursor = next })
	return nil
}

// saveState adds the agreed batch, its root and the accounts it changed to b.
func (c *Challenger) saveState(b *pebble.Batch) error {
	root, err := c.run.exec.root()
	if err != nil {
		return err
	}
	if err := setRLP(b, keyAgreed, &agreedRecord{Agreed: c.run.agreed.Number, Root: root.Bytes(),
		SubmittedAt: c.run.agreed.SubmittedAt}); err != nil {
		return err
	}
	for _, i := range c.run.changed {
		a, ok, err := c.run.exec.account(i)
		if err != nil {
			return err
		}
		if !ok {
			continue // never written: accounts are never removed (docs §7)
		}
		if err := setRLP(b, accountKey(i), &storedAccount{PKX: a.PubKey.X.Bytes(), PKY: a.PubKey.Y.Bytes(),
			Balance: a.Balance, Nonce: a.Nonce}); err != nil {
			return err
		}
	}
	return nil
}

func setRLP(b *pebble.Batch, key []byte, v any) error {
	enc, err := rlp.EncodeToBytes(v)
	if err != nil {
		return err
	}
	return b.Set(key, enc, nil)
}
