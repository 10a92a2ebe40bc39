package fraud

import (
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l2"
)

// Kind names what a fraud proof shows (docs §11.2).
type Kind uint8

// Proof kinds.
const (
	// KindStep: transaction k of the batch, re-executed from the agreed root before it (trace[k-1],
	// or prev_root for k = 0), fails by the rules or gives a root other than trace[k].
	KindStep Kind = 1
	// KindFinalRoot: the commitment's new root is not the trace's last entry trace[n-1].
	KindFinalRoot Kind = 2
	// KindWithdrawalRoot: the commitment's withdrawal root is not the list root of the withdrawal
	// leaves of the batch's withdraws, as they are when every transaction succeeds.
	KindWithdrawalRoot Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindStep:
		return "step"
	case KindFinalRoot:
		return "final root mismatch"
	case KindWithdrawalRoot:
		return "withdrawal root mismatch"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Limits checked before anything is decoded.
const (
	// maxEdDSAProofSize bounds a proof without ML-DSA fields: the largest, a step proof at depth
	// 32 with two account witnesses, is 3,193 bytes (TestMaxProofSize).
	maxEdDSAProofSize = 4096
	// MaxProofSize bounds an encoded proof: maxEdDSAProofSize, and for a type 5/6 step the
	// signer's ML-DSA-65 public key and signature with their RLP headers (3 bytes each) and the
	// longer list header (TestMaxProofSize).
	MaxProofSize = maxEdDSAProofSize + l2.MLDSAPubSize + l2.MLDSASigSize + 16
	// maxAccounts is the most accounts one transaction touches (a transfer's two).
	maxAccounts = 2
)

// Errors of decoding and judging. Judge wraps them; test with errors.Is.
var (
	ErrMalformed = errors.New("fraud: malformed proof")
	ErrMismatch  = errors.New("fraud: proof does not match the batch")
	ErrNoFraud   = errors.New("fraud: the batch is what its commitment says")
)

// Proof is a fraud proof against one optimistic batch. Which fields a kind uses is fixed
// (docs §11.2); every other one is zero or empty.
type Proof struct {
	Kind  Kind
	Batch uint64 // the batch number
	Step  uint64 // k: the step proven wrong (KindStep), n-1 (KindFinalRoot), 0 (KindWithdrawalRoot)

	// KindStep: the agreed root before step k, trace[k-1] with its trace witness, or prev_root
	// with no witness for k = 0.
	PrevRoot     fr.Element
	PrevSiblings []fr.Element
	// KindStep and KindFinalRoot: trace[k] with its trace witness (l2.ListDepth siblings).
	NextRoot     fr.Element
	NextSiblings []fr.Element
	// KindStep: the accounts transaction k touches (l2.Tx.Touches, in that order) with their
	// witnesses in PrevRoot.
	Accounts []l2.AccountWitness
	// KindStep of a type 5/6 transaction whose sender is an ML-DSA account (docs §11.2): the
	// sender's ML-DSA-65 public key (l2.MLDSAPubSize bytes, its MLDSAKeyHash the leaf's pk.y)
	// and the signature that follows record k in the batch data (l2.MLDSASigSize bytes, its
	// digest w2). Empty otherwise.
	MLDSAPub []byte
	MLDSASig []byte
}

// wireProof is the RLP form of a Proof: field elements as canonical 32-byte big-endian words.
type wireProof struct {
	Kind         uint8
	Batch        uint64
	Step         uint64
	PrevRoot     [32]byte
	PrevSiblings [][32]byte
	NextRoot     [32]byte
	NextSiblings [][32]byte
	Accounts     []wireAccount
	MLDSAPub     []byte `rlp:"optional"`
	MLDSASig     []byte `rlp:"optional"`
}

type wireAccount struct {
	Index    uint32
	Exists   bool
	PKX, PKY [32]byte
	Balance  uint64
	Nonce    uint64
	Siblings [][32]byte
}

func words(es []fr.Element) [][32]byte {
	if len(es) == 0 {
		return nil
	}
	out := make([][32]byte, len(es))
	for i := range es {
		out[i] = es[i].Bytes()
	}
	return out
}

// Encode returns the RLP encoding of p, the Proof of a chain.Challenge.
func (p *Proof) Encode() []byte {
	w := wireProof{Kind: uint8(p.Kind), Batch: p.Batch, Step: p.Step, PrevRoot: p.PrevRoot.Bytes(),
		PrevSiblings: words(p.PrevSiblings), NextRoot: p.NextRoot.Bytes(), NextSiblings: words(p.NextSiblings),
		MLDSAPub: p.MLDSAPub, MLDSASig: p.MLDSASig}
	for _, a := range p.Accounts {
		w.Accounts = append(w.Accounts, wireAccount{Index: a.Index, Exists: a.Exists, PKX: a.Account.PubKey.X.Bytes(),
			PKY: a.Account.PubKey.Y.Bytes(), Balance: a.Account.Balance, Nonce: a.Account.Nonce, Siblings: words(a.Siblings)})
	}
	b, err := rlp.EncodeToBytes(&w)
	if err != nil {
		panic(fmt.Sprintf("fraud: encoding a proof: %v", err)) // fixed-size fields and byte lists always encode
	}
	return b
}

// Decode decodes a proof with every structural check of docs §11.2: the size bound before
// anything is decoded, strict RLP with nothing after it, a known kind, canonical field elements,
// and for the kind the fields it uses with their lengths and zero in the others. Whether the
// proof matches a batch is Judge's business.
func Decode(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxProofSize)
	}
	var w wireProof
	if err := rlp.DecodeBytes(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	p := &Proof{Kind: Kind(w.Kind), Batch: w.Batch, Step: w.Step, MLDSAPub: w.MLDSAPub, MLDSASig: w.MLDSASig}
	var err error
	elem := func(what string, src [32]byte) fr.Element {
		var e fr.Element
		if err == nil && e.SetBytesCanonical(src[:]) != nil {
			err = fmt.Errorf("%w: %s is not a canonical field element", ErrMalformed, what)
		}
		return e
	}
	elems := func(what string, src [][32]byte) []fr.Element {
		out := make([]fr.Element, len(src))
		for i := range src {
			out[i] = elem(what, src[i])
		}
		return out
	}
	p.PrevRoot, p.PrevSiblings = elem("prev root", w.PrevRoot), elems("prev siblings", w.PrevSiblings)
	p.NextRoot, p.NextSiblings = elem("next root", w.NextRoot), elems("next siblings", w.NextSiblings)
	if len(w.Accounts) > maxAccounts {
		return nil, fmt.Errorf("%w: %d account witnesses, at most %d", ErrMalformed, len(w.Accounts), maxAccounts)
	}
	for i, a := range w.Accounts {
		if len(a.Siblings) > l2.MaxTreeDepth {
			return nil, fmt.Errorf("%w: account %d: %d siblings", ErrMalformed, i, len(a.Siblings))
		}
		aw := l2.AccountWitness{Index: a.Index, Exists: a.Exists, Siblings: elems("account siblings", a.Siblings),
			Account: l2.Account{PubKey: l2.PublicKey{X: elem("pk.x", a.PKX), Y: elem("pk.y", a.PKY)}, Balance: a.Balance, Nonce: a.Nonce}}
		if !a.Exists && aw.Account != (l2.Account{}) {
			return nil, fmt.Errorf("%w: account %d: an empty leaf with a non-zero account", ErrMalformed, i)
		}
		p.Accounts = append(p.Accounts, aw)
	}
	if err != nil {
		return nil, err
	}
	return p, p.checkLayout()
}

// checkLayout checks the fields of p against its kind.
func (p *Proof) checkLayout() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s proof: %s", ErrMalformed, p.Kind, what) }
	hasPrev := !p.PrevRoot.IsZero() || len(p.PrevSiblings) > 0
	if p.Kind != KindStep && (len(p.MLDSAPub) > 0 || len(p.MLDSASig) > 0) {
		return bad("an ML-DSA key or signature belongs to a step proof only")
	}
	if (len(p.MLDSAPub) == 0) != (len(p.MLDSASig) == 0) {
		return bad("an ML-DSA key without its signature, or a signature without its key")
	}
	if len(p.MLDSAPub) > 0 && (len(p.MLDSAPub) != l2.MLDSAPubSize || len(p.MLDSASig) != l2.MLDSASigSize) {
		return bad(fmt.Sprintf("ML-DSA key of %d bytes and signature of %d, want %d and %d",
			len(p.MLDSAPub), len(p.MLDSASig), l2.MLDSAPubSize, l2.MLDSASigSize))
	}
	switch p.Kind {
	case KindStep:
		if p.Step == 0 && len(p.PrevSiblings) != 0 {
			return bad("step 0 starts from prev_root, which has no trace witness")
		}
		if p.Step > 0 && len(p.PrevSiblings) != l2.ListDepth {
			return bad(fmt.Sprintf("%d prev siblings, want %d", len(p.PrevSiblings), l2.ListDepth))
		}
	case KindFinalRoot:
		if hasPrev || len(p.Accounts) > 0 {
			return bad("only the last trace entry")
		}
	case KindWithdrawalRoot:
		if p.Step != 0 || hasPrev || !p.NextRoot.IsZero() || len(p.NextSiblings) > 0 || len(p.Accounts) > 0 {
			return bad("no fields but the batch")
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, uint8(p.Kind))
	}
	if len(p.NextSiblings) != l2.ListDepth {
		return bad(fmt.Sprintf("%d next siblings, want %d", len(p.NextSiblings), l2.ListDepth))
	}
	return nil
}
