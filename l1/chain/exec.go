package chain

import (
	"errors"
	"fmt"
	"math"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// errFatal marks errors that must stop the chain (store failures, broken invariants); a
// transaction error without it only fails that transaction.
var errFatal = errors.New("fatal")

func fatal(err error) error { return fmt.Errorf("%w: %w", errFatal, err) }

// executor applies one block.
type executor struct {
	c         *Chain
	o         *overlay
	height    uint64
	timestamp uint64
	events    []Event // of committed transactions and of the tick
	txEvents  []Event // of the transaction being applied
	txHash    common.Hash
	// valUpdates are the power changes of an epoch boundary (validators.go).
	valUpdates []ValidatorUpdate
}

func (x *executor) emit(e Event) {
	e.TxHash = x.txHash
	x.txEvents = append(x.txEvents, e)
}

func (x *executor) commitTx() {
	x.o.commitTx()
	x.events = append(x.events, x.txEvents...)
	x.txEvents = x.txEvents[:0]
}

func (x *executor) discardTx() {
	x.o.discardTx()
	x.txEvents = x.txEvents[:0]
}

// load reads key into v; a store error is fatal.
func (x *executor) load(key string, v any) (bool, error) {
	ok, err := x.o.getRLP(key, v)
	if err != nil {
		return false, fatal(err)
	}
	return ok, nil
}

func (x *executor) account(a common.Address) (Account, error) {
	var acct Account
	_, err := x.load(keyAccount(a), &acct)
	return acct, err
}

func (x *executor) setAccount(a common.Address, acct *Account) { x.o.putRLP(keyAccount(a), acct) }

func (x *executor) credit(a common.Address, amount uint64) error {
	acct, err := x.account(a)
	if err != nil {
		return err
	}
	if acct.Balance > math.MaxUint64-amount {
		return fmt.Errorf("%w: crediting %d to %s", ErrOverflow, amount, a)
	}
	acct.Balance += amount
	x.setAccount(a, &acct)
	return nil
}

func (x *executor) debit(a common.Address, amount uint64) error {
	acct, err := x.account(a)
	if err != nil {
		return err
	}
	if acct.Balance < amount {
		return fmt.Errorf("%w: %s has %d, needs %d", ErrInsufficientFunds, a, acct.Balance, amount)
	}
	acct.Balance -= amount
	x.setAccount(a, &acct)
	return nil
}

func (x *executor) global() (Global, error) {
	var g Global
	_, err := x.load(keyGlobal(), &g)
	return g, err
}

func (x *executor) rollup(id uint64) (*Rollup, error) {
	var r Rollup
	ok, err := x.load(keyRollup(id), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownRollup, id)
	}
	return &r, nil
}

func (x *executor) setRollup(r *Rollup) { x.o.putRLP(keyRollup(r.ID), r) }

func (x *executor) rollupCount() (uint64, error) {
	var n uint64
	_, err := x.load(keyRollupCount(), &n)
	return n, err
}

// applyTx applies one raw transaction. Envelope errors (size, encoding, type, chain, signature,
// nonce) and a balance that cannot pay the fee leave the state untouched; any later error
// rolls the transaction back but consumes its nonce and its fee, so the same signed
// transaction can never be replayed and a failing one still pays for its block space.
func (x *executor) applyTx(raw []byte) error {
	tx, err := DecodeTx(raw, x.c.ChainID())
	if err != nil {
		return err
	}
	x.txHash = tx.Hash
	defer func() { x.txHash = common.Hash{} }()
	acct, err := x.account(tx.Sender)
	if err != nil {
		return err
	}
	if tx.Nonce != acct.Nonce {
		return fmt.Errorf("%w: %s has nonce %d, transaction %d", ErrBadNonce, tx.Sender, acct.Nonce, tx.Nonce)
	}
	if err := x.chargeFee(tx, &acct); err != nil {
		x.discardTx()
		return err
	}
	acct.Nonce++
	x.setAccount(tx.Sender, &acct)
	x.o.commitTx() // the nonce and the fee stand whatever the transaction does
	if err := x.dispatch(tx); err != nil {
		x.discardTx()
		if errors.Is(err, errFatal) {
			return err
		}
		// The nonce and the fee are committed; a rejected challenge also loses its bond.
		if ferr := x.forfeitBond(tx.Sender, err); ferr != nil {
			return ferr
		}
		x.commitTx()
		return err
	}
	x.commitTx()
	return nil
}

func (x *executor) dispatch(tx *DecodedTx) error {
	switch p := tx.Body().(type) {
	case *Transfer:
		return x.transfer(tx.Sender, p)
	case *RollupConfig:
		return x.registerRollup(p)
	case *Deposit:
		return x.deposit(tx.Sender, p)
	case *SubmitBatch:
		return x.submitBatch(tx.Sender, p)
	case *ClaimWithdrawal:
		return x.claimWithdrawal(p)
	case *Challenge:
		return x.challenge(tx.Sender, p)
	case *ExodusWithdrawal:
		return x.exodusWithdrawal(p)
	case *ExodusRefund:
		return x.exodusRefund(p)
	case *GuardianAction:
		return x.guardianAction(p)
	case *ReleaseDelayed:
		return x.releaseDelayed(p)
	case *ConfigChange:
		return x.configChange(p)
	case *ValidatorJoin:
		return x.validatorJoin(tx, p)
	case *ValidatorStake:
		return x.validatorStake(tx.Sender, p)
	case *ValidatorLeave:
		return x.validatorLeave(tx.Sender)
	}
	return fmt.Errorf("%w: %T", ErrUnknownType, tx.Body()) // unreachable: decodePayload knows every type
}

func (x *executor) transfer(from common.Address, p *Transfer) error {
	if err := x.debit(from, p.Amount); err != nil {
		return err
	}
	return x.credit(p.To, p.Amount)
}

// tick runs the height-driven rules at the start of a block: finalization of batches whose
// challenge window has passed, and the exodus freeze.
func (x *executor) tick() error {
	n, err := x.rollupCount()
	if err != nil {
		return err
	}
	for id := uint64(1); id <= n; id++ {
		r, err := x.rollup(id)
		if err != nil {
			return fatal(err)
		}
		if r.Frozen {
			continue
		}
		final := r.FinalNumber
		activated := x.activateConfig(r)
		if err := x.finalize(r); err != nil {
			return fatal(err)
		}
		frozen := x.height-r.FinalHeight >= r.Config.ExodusTimeout
		if frozen {
			r.Frozen, r.FrozenAt = true, x.height
			x.emit(Event{Kind: EventRollupFrozen, RollupID: id, Number: r.FinalNumber, Root: r.FinalRoot})
		}
		if frozen || activated || r.FinalNumber != final {
			x.setRollup(r)
		}
	}
	x.commitTx()
	return nil
}

// finalize finalizes, in order, the pending batches of r whose FinalizeAt has come, releasing
// their bonds. The caller stores r.
func (x *executor) finalize(r *Rollup) error {
	for r.FinalNumber < r.HeadNumber {
		var b BatchRecord
		ok, err := x.load(keyBatch(r.ID, r.FinalNumber+1), &b)
		if err != nil {
			return err
		}
		if !ok {
			return fatal(fmt.Errorf("%w: rollup %d batch %d missing", ErrCorruptStore, r.ID, r.FinalNumber+1))
		}
		if b.FinalizeAt > x.height {
			return nil
		}
		if b.Bond > 0 {
			if err := x.releaseBond(b.Submitter, b.Bond, b.Bond, 0); err != nil {
				return err
			}
		}
		x.o.del(keyBatchTrace(r.ID, b.Number)) // only challenges read it
		r.FinalNumber, r.FinalRoot, r.FinalConsumed, r.FinalHeight = b.Number, b.NewRoot, b.ConsumedAfter, x.height
		reservesFinal(r, &b)
		x.emit(Event{Kind: EventBatchFinalized, RollupID: r.ID, Number: b.Number, Root: b.NewRoot})
	}
	return x.releaseStake(r)
}

// releaseBond unlocks bond: paid goes to to, burned leaves the supply.
func (x *executor) releaseBond(to common.Address, bond, paid, burned uint64) error {
	g, err := x.global()
	if err != nil {
		return err
	}
	if g.Bonded < bond || paid+burned != bond {
		return fatal(fmt.Errorf("%w: bond accounting", ErrCorruptStore))
	}
	g.Bonded -= bond
	g.Burned += burned
	x.o.putRLP(keyGlobal(), &g)
	if paid > 0 {
		return x.credit(to, paid)
	}
	return nil
}

// checkEscrow checks the escrow invariant of every rollup after the block:
// escrow = deposits − paid withdrawals, never negative. A violation is fatal.
func (x *executor) checkEscrow() error {
	n, err := x.rollupCount()
	if err != nil {
		return err
	}
	for id := uint64(1); id <= n; id++ {
		r, err := x.rollup(id)
		if err != nil {
			return fatal(err)
		}
		if r.Paid > r.Deposited || r.Escrow != r.Deposited-r.Paid {
			return fatal(fmt.Errorf("%w: rollup %d at height %d: escrow %d, deposited %d, paid %d",
				ErrEscrowInvariant, id, x.height, r.Escrow, r.Deposited, r.Paid))
		}
		if _, err := r.Reserves(); err != nil { // escrow = unconsumed + L2 supply + unclaimed + delayed
			return fatal(fmt.Errorf("at height %d: %w", x.height, err))
		}
	}
	return nil
}

func (x *executor) registerRollup(cfg *RollupConfig) error {
	if err := validateConfig(cfg); err != nil {
		return err
	}
	var taken uint64
	ok, err := x.load(keyChainID(cfg.L2ChainID), &taken)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("%w: %d (rollup %d)", ErrDuplicateChainID, cfg.L2ChainID, taken)
	}
	n, err := x.rollupCount()
	if err != nil {
		return err
	}
	id := n + 1
	z := l2.EmptySubtree(int(cfg.TreeDepth))
	empty := z.Bytes()
	r := Rollup{ID: id, Config: *cfg, RegisteredAt: x.height, HeadRoot: empty, FinalRoot: empty,
		FinalHeight: x.height, Res: ReserveTotals{On: true}}
	if w := cfg.Governor.WindowBlocks; w > 0 {
		r.Gov.Window = x.height / w
	}
	x.setRollup(&r)
	x.o.putRLP(keyRollupCount(), id)
	x.o.putRLP(keyChainID(cfg.L2ChainID), id)
	x.emit(Event{Kind: EventRollupRegistered, RollupID: id, Number: cfg.L2ChainID})
	return nil
}

func validateConfig(c *RollupConfig) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, a...)...)
	}
	switch {
	case c.TreeDepth < l2.MinTreeDepth || c.TreeDepth > l2.MaxTreeDepth:
		return bad("tree depth %d outside [%d, %d]", c.TreeDepth, l2.MinTreeDepth, l2.MaxTreeDepth)
	case c.BatchSize == 0 || c.BatchSize > l2.MaxBatchTxs:
		return bad("batch size %d outside [1, %d]", c.BatchSize, l2.MaxBatchTxs)
	case c.ChallengeWindow == 0 || c.ForcedInclusionWindow == 0:
		return bad("challenge and forced-inclusion windows must be positive")
	case c.ExodusTimeout <= c.ChallengeWindow:
		return bad("exodus timeout %d must exceed the challenge window %d", c.ExodusTimeout, c.ChallengeWindow)
	case len(c.Sequencers) == 0 || len(c.Sequencers) > MaxSequencers:
		return bad("%d sequencers, want 1..%d", len(c.Sequencers), MaxSequencers)
	case len(c.Guardians) > MaxGuardians:
		return bad("%d guardians, at most %d", len(c.Guardians), MaxGuardians)
	case len(c.Guardians) > 0 && (c.GuardianThreshold == 0 || c.GuardianThreshold > uint64(len(c.Guardians))):
		return bad("guardian threshold %d of %d", c.GuardianThreshold, len(c.Guardians))
	case len(c.Guardians) == 0 && c.GuardianThreshold != 0:
		return bad("guardian threshold without guardians")
	}
	for i, g := range c.Guardians {
		if _, err := pqkey.ParsePublicKey(g); err != nil {
			return bad("guardian %d: %v", i, err)
		}
	}
	g := c.Governor
	if g.WindowBlocks > 0 || g.LargeWithdrawal > 0 {
		if g.DelayBlocks == 0 {
			return bad("governor limits need a positive delay")
		}
	}
	if g.WindowBlocks == 0 && (g.WindowCap > 0 || g.AnomalyFactor > 0) {
		return bad("window cap and anomaly detector need a window length")
	}
	if g.AnomalyFactor > 0 && (g.EWMAShift == 0 || g.EWMAShift > 16) {
		return bad("EWMA shift %d outside [1, 16]", g.EWMAShift)
	}
	return nil
}

// fieldElement reads a canonical field element (l1api.FieldElement).
func fieldElement(b [32]byte) (fr.Element, error) { return l1api.FieldElement(b) }

// validL2Key reports whether (x, y) is a non-identity point of the prime-order subgroup of the
// L2 curve: the condition docs/protocol.md §4.1 puts on every key a deposit creates.
func validL2Key(xb, yb [32]byte) (l2.PublicKey, error) {
	xe, err := fieldElement(xb)
	if err != nil {
		return l2.PublicKey{}, fmt.Errorf("%w: x: %v", ErrBadL2Key, err)
	}
	ye, err := fieldElement(yb)
	if err != nil {
		return l2.PublicKey{}, fmt.Errorf("%w: y: %v", ErrBadL2Key, err)
	}
	p := twistededwards.NewPointAffine(xe, ye)
	if !p.IsOnCurve() {
		return l2.PublicKey{}, fmt.Errorf("%w: not on the curve", ErrBadL2Key)
	}
	if p.IsZero() {
		return l2.PublicKey{}, fmt.Errorf("%w: identity", ErrBadL2Key)
	}
	curve := twistededwards.GetEdwardsCurve()
	var q twistededwards.PointAffine
	q.ScalarMultiplication(&p, &curve.Order)
	if !q.IsZero() {
		return l2.PublicKey{}, fmt.Errorf("%w: not in the prime-order subgroup", ErrBadL2Key)
	}
	return l2.PublicKey{X: xe, Y: ye}, nil
}

func (x *executor) deposit(from common.Address, p *Deposit) error {
	if err := checkDepositKeySize(p); err != nil {
		return err
	}
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if err := rollupOpen(r); err != nil {
		return err
	}
	if p.Amount == 0 {
		return fmt.Errorf("%w: zero deposit", ErrTxMalformed)
	}
	pk, err := depositKey(p)
	if err != nil {
		return err
	}
	if r.Deposited > math.MaxUint64-p.Amount {
		return fmt.Errorf("%w: rollup %d deposits", ErrOverflow, r.ID)
	}
	if err := x.debit(from, p.Amount); err != nil {
		return err
	}
	prev, err := fieldElement(r.QueueChain)
	if err != nil {
		return fatal(err)
	}
	next := l2.NextDepositChain(prev, l2.DepositHash(pk, p.Amount))
	chain := next.Bytes()
	j := r.QueueLen
	x.o.putRLP(keyDeposit(r.ID, j), &DepositEntry{Chain: chain, Height: x.height, Depositor: from,
		Amount: p.Amount, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
	if err := x.registerL2Key(r.ID, pk, p.MLDSAKey); err != nil {
		return err
	}
	r.QueueLen++
	r.QueueChain = chain
	r.Deposited += p.Amount
	r.Escrow += p.Amount
	x.setRollup(r)
	x.emit(Event{Kind: EventDeposit, RollupID: r.ID, Number: j, Amount: p.Amount, Address: from, Root: chain})
	return nil
}

// rollupOpen rejects operations on a paused or frozen rollup.
func rollupOpen(r *Rollup) error {
	if r.Paused {
		return fmt.Errorf("%w: %d", ErrPaused, r.ID)
	}
	if r.Frozen {
		return fmt.Errorf("%w: %d since height %d", ErrFrozen, r.ID, r.FrozenAt)
	}
	return nil
}

// pay moves amount out of r's escrow to to. The caller stores r.
func (x *executor) pay(r *Rollup, to common.Address, amount uint64) error {
	if r.Escrow < amount {
		return fmt.Errorf("%w: rollup %d escrow %d, paying %d", ErrEscrowShort, r.ID, r.Escrow, amount)
	}
	r.Escrow -= amount
	r.Paid += amount
	return x.credit(to, amount)
}

func (x *executor) claimWithdrawal(p *ClaimWithdrawal) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if r.Paused {
		return fmt.Errorf("%w: %d", ErrPaused, r.ID)
	}
	if p.Batch == 0 || p.Batch > r.FinalNumber {
		return fmt.Errorf("%w: rollup %d batch %d (finalized through %d)", ErrNotFinal, r.ID, p.Batch, r.FinalNumber)
	}
	if p.Index >= l2.MaxBatchTxs || len(p.Siblings) != l2.ListDepth {
		return fmt.Errorf("%w: index %d, %d siblings", ErrBadMerkleProof, p.Index, len(p.Siblings))
	}
	claimKey := keyClaim(r.ID, p.Batch, p.Index)
	var claimed bool
	if ok, err := x.load(claimKey, &claimed); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: rollup %d batch %d index %d", ErrAlreadyClaimed, r.ID, p.Batch, p.Index)
	}
	var b BatchRecord
	if ok, err := x.load(keyBatch(r.ID, p.Batch), &b); err != nil {
		return err
	} else if !ok {
		return fatal(fmt.Errorf("%w: finalized batch %d of rollup %d missing", ErrCorruptStore, p.Batch, r.ID))
	}
	sibs, err := fieldElements(p.Siblings)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadMerkleProof, err)
	}
	root, err := fieldElement(b.WithdrawalRoot)
	if err != nil {
		return fatal(err)
	}
	leaf := l2.WithdrawalLeaf(p.Address, p.Amount)
	if p.Amount == 0 || !l2.VerifyWitness(root, l2.ListDepth, uint32(p.Index), leaf, sibs) {
		return fmt.Errorf("%w: withdrawal %d of batch %d", ErrBadMerkleProof, p.Index, p.Batch)
	}
	x.o.putRLP(claimKey, true)
	d, err := x.withdraw(r, p.Address, p.Amount)
	if err != nil {
		return err
	}
	r.Res.Claimed += p.Amount // ≤ the final batches' withdrawals (each claimed once, against its root)
	if d != nil {
		x.o.putRLP(keyClaimDelayed(r.ID, p.Batch, p.Index), d.ID)
	}
	x.setRollup(r)
	return nil
}

func fieldElements(b [][32]byte) ([]fr.Element, error) {
	out := make([]fr.Element, len(b))
	for i := range b {
		e, err := fieldElement(b[i])
		if err != nil {
			return nil, fmt.Errorf("sibling %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// exodusRollup loads a rollup for an exodus payout: only a frozen rollup pays out, and a guardian
// pause stops payouts too.
func (x *executor) exodusRollup(id uint64) (*Rollup, error) {
	r, err := x.rollup(id)
	if err != nil {
		return nil, err
	}
	if r.Paused {
		return nil, fmt.Errorf("%w: %d", ErrPaused, r.ID)
	}
	if !r.Frozen {
		return nil, fmt.Errorf("%w: %d", ErrNotFrozen, r.ID)
	}
	return r, nil
}

func (x *executor) exodusWithdrawal(p *ExodusWithdrawal) error {
	r, err := x.exodusRollup(p.RollupID)
	if err != nil {
		return err
	}
	exitKey := keyExit(r.ID, p.Index)
	var exited bool
	if ok, err := x.load(exitKey, &exited); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: rollup %d account %d", ErrAlreadyExited, r.ID, p.Index)
	}
	depth := int(r.Config.TreeDepth)
	if len(p.Siblings) != depth {
		return fmt.Errorf("%w: %d siblings for depth %d", ErrBadMerkleProof, len(p.Siblings), depth)
	}
	sibs, err := fieldElements(p.Siblings)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadMerkleProof, err)
	}
	var pk l2.PublicKey
	if pk.X, err = fieldElement(p.PKX); err != nil {
		return fmt.Errorf("%w: %v", ErrBadL2Key, err)
	}
	if pk.Y, err = fieldElement(p.PKY); err != nil {
		return fmt.Errorf("%w: %v", ErrBadL2Key, err)
	}
	root, err := fieldElement(r.FinalRoot)
	if err != nil {
		return fatal(err)
	}
	leaf := l2.Account{PubKey: pk, Balance: p.Balance, Nonce: p.L2Nonce}.Leaf()
	if !l2.VerifyWitness(root, depth, p.Index, leaf, sibs) {
		return fmt.Errorf("%w: account %d against the last finalized root", ErrBadMerkleProof, p.Index)
	}
	if err := x.verifyExodusSig(r, p, pk); err != nil {
		return err
	}
	x.o.putRLP(exitKey, true)
	if err := x.pay(r, p.Recipient, p.Balance); err != nil {
		return err
	}
	r.Res.ExodusPaid += p.Balance
	x.setRollup(r)
	x.emit(Event{Kind: EventExodus, RollupID: r.ID, Number: uint64(p.Index), Amount: p.Balance, Address: p.Recipient})
	return nil
}

const ExodusNonce = l1api.ExodusNonce

// ExodusMessage is l1api.ExodusMessage.
func ExodusMessage(index uint32, balance uint64, recipient common.Address) l2.Tx {
	return l1api.ExodusMessage(index, balance, recipient)
}

func (x *executor) exodusRefund(p *ExodusRefund) error {
	r, err := x.exodusRollup(p.RollupID)
	if err != nil {
		return err
	}
	if p.Index < r.FinalConsumed || p.Index >= r.QueueLen {
		return fmt.Errorf("%w: deposit %d (finalized batches consumed %d of %d)", ErrNotRefundable, p.Index, r.FinalConsumed, r.QueueLen)
	}
	refundKey := keyRefund(r.ID, p.Index)
	var done bool
	if ok, err := x.load(refundKey, &done); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: deposit %d already refunded", ErrNotRefundable, p.Index)
	}
	var d DepositEntry
	if ok, err := x.load(keyDeposit(r.ID, p.Index), &d); err != nil {
		return err
	} else if !ok {
		return fatal(fmt.Errorf("%w: deposit %d of rollup %d missing", ErrCorruptStore, p.Index, r.ID))
	}
	x.o.putRLP(refundKey, true)
	if err := x.pay(r, d.Depositor, d.Amount); err != nil {
		return err
	}
	r.Res.ExodusRefunded += d.Amount
	x.setRollup(r)
	x.emit(Event{Kind: EventDepositRefunded, RollupID: r.ID, Number: p.Index, Amount: d.Amount, Address: d.Depositor})
	return nil
}

func (x *executor) guardianAction(p *GuardianAction) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if p.Action != ActionPause && p.Action != ActionUnpause {
		return fmt.Errorf("%w: %d", ErrBadAction, p.Action)
	}
	if p.Nonce != r.GuardianNonce {
		return fmt.Errorf("%w: %d, rollup %d expects %d", ErrBadGuardianNonce, p.Nonce, r.ID, r.GuardianNonce)
	}
	msg, err := rlp.EncodeToBytes(&GuardianMessage{RollupID: r.ID, Action: p.Action})
	if err != nil {
		return fatal(err)
	}
	if err := x.checkGuardianSigs(r, pqkey.ContextGuardianPause, msg, p.Sigs); err != nil {
		return err
	}
	r.GuardianNonce++
	r.Paused = p.Action == ActionPause
	x.setRollup(r)
	kind := EventPaused
	if !r.Paused {
		kind = EventUnpaused
	}
	x.emit(Event{Kind: kind, RollupID: r.ID, Number: p.Nonce})
	return nil
}

// checkGuardianSigs checks that sigs hold at least the threshold of distinct, valid signatures
// of r's current guardians over msg, with ctx, the chain ID and the rollup's guardian nonce.
func (x *executor) checkGuardianSigs(r *Rollup, ctx pqkey.Context, msg []byte, sigs []GuardianSig) error {
	seen := make([]bool, len(r.Config.Guardians))
	var valid uint64
	for _, s := range sigs {
		if s.Guardian >= uint64(len(seen)) || seen[s.Guardian] {
			return fmt.Errorf("%w: guardian %d unknown or repeated", ErrGuardianQuorum, s.Guardian)
		}
		seen[s.Guardian] = true
		pk, err := pqkey.ParsePublicKey(r.Config.Guardians[s.Guardian])
		if err != nil {
			return fatal(err) // validated at registration
		}
		if err := pk.Verify(ctx, x.c.ChainID(), r.GuardianNonce, msg, s.Sig); err != nil {
			return fmt.Errorf("%w: guardian %d: %w", ErrGuardianQuorum, s.Guardian, err)
		}
		valid++
	}
	if len(seen) == 0 || valid < r.Config.GuardianThreshold {
		return fmt.Errorf("%w: %d of %d required", ErrGuardianQuorum, valid, r.Config.GuardianThreshold)
	}
	return nil
}

// SignGuardianAction is l1api.SignGuardianAction.
func SignGuardianAction(k *pqkey.PrivateKey, chainID, rollupID uint64, action uint8, nonce uint64) ([]byte, error) {
	return l1api.SignGuardianAction(k, chainID, rollupID, action, nonce)
}
