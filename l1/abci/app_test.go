package abci

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/api/cometbft/types/v1"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// appSet is 4 validators' applications over one node at genesis (ExtendVote and the proposal
// checks read only the committed chain, which every validator shares).
type appSet struct {
	apps []*App
	cmt  [][]byte // CometBFT addresses
}

func newAppSet(t *testing.T) *appSet {
	t.Helper()
	var vals []Validator
	var keys []*pqkey.PrivateKey
	s := &appSet{}
	for i := range 4 {
		k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xb0, byte(i)})
		ck := ed25519.GenPrivKeyFromSecret([]byte{0xb0, byte(i)})
		keys = append(keys, k)
		vals = append(vals, Validator{PQKey: k.Public().Bytes(), ConsensusKey: ck.PubKey().Bytes(), Power: 10})
		s.cmt = append(s.cmt, ck.PubKey().Address())
	}
	n, err := node.New(node.Config{Dir: filepath.Join(t.TempDir(), "l1"), ExternalConsensus: true,
		Genesis: chain.Genesis{ChainID: testChainID, Validator: keys[0].Public().Bytes(), Timestamp: 1_700_000_000_000,
			Validators: GenesisValidators(vals), Staking: chain.Staking{EpochLength: testEpoch, MinStake: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	})
	for _, k := range keys {
		a, err := New(Config{Node: n, Key: k, Validators: vals})
		if err != nil {
			t.Fatal(err)
		}
		s.apps = append(s.apps, a)
	}
	return s
}

// extensions are the validators' vote extensions at height 1 (votes on height 0).
func (s *appSet) extensions(t *testing.T) [][]byte {
	t.Helper()
	var exts [][]byte
	for _, a := range s.apps {
		r, err := a.ExtendVote(context.Background(), &abcitypes.ExtendVoteRequest{Height: 1})
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, r.VoteExtension)
	}
	return exts
}

func (s *appSet) commitInfo(exts [][]byte, voters ...int) abcitypes.ExtendedCommitInfo {
	var info abcitypes.ExtendedCommitInfo
	for _, i := range voters {
		info.Votes = append(info.Votes, abcitypes.ExtendedVoteInfo{Validator: abcitypes.Validator{Address: s.cmt[i], Power: 10},
			VoteExtension: exts[i], BlockIdFlag: cmtproto.BlockIDFlagCommit})
	}
	return info
}

func accepted(t *testing.T, a *App, height int64, txs [][]byte) bool {
	t.Helper()
	r, err := a.ProcessProposal(context.Background(), &abcitypes.ProcessProposalRequest{Height: height, Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status == abcitypes.PROCESS_PROPOSAL_STATUS_ACCEPT
}

func TestVerifyVoteExtension(t *testing.T) {
	s := newAppSet(t)
	exts := s.extensions(t)
	verify := func(cmt []byte, ext []byte) bool {
		r, err := s.apps[0].VerifyVoteExtension(context.Background(), &abcitypes.VerifyVoteExtensionRequest{
			ValidatorAddress: cmt, Height: 1, VoteExtension: ext})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status == abcitypes.VERIFY_VOTE_EXTENSION_STATUS_ACCEPT
	}
	if !verify(s.cmt[1], exts[1]) {
		t.Fatal("validator 1's own vote refused")
	}
	if verify(s.cmt[2], exts[1]) {
		t.Fatal("validator 1's vote accepted in validator 2's precommit")
	}
	if verify(bytes.Repeat([]byte{7}, 20), exts[1]) {
		t.Fatal("a vote accepted from a CometBFT address outside the set")
	}
	if verify(s.cmt[1], nil) || verify(s.cmt[1], []byte{0xc0}) {
		t.Fatal("an empty or malformed extension accepted")
	}
	var v qc.Vote
	if err := rlp.DecodeBytes(exts[1], &v); err != nil {
		t.Fatal(err)
	}
	v.Sig[0] ^= 1
	forged, err := rlp.EncodeToBytes(&v)
	if err != nil {
		t.Fatal(err)
	}
	if verify(s.cmt[1], forged) {
		t.Fatal("a forged signature accepted")
	}
	r, err := s.apps[0].VerifyVoteExtension(context.Background(), &abcitypes.VerifyVoteExtensionRequest{
		ValidatorAddress: s.cmt[1], Height: 2, VoteExtension: exts[1]}) // a vote on height 0 offered for 1
	if err != nil {
		t.Fatal(err)
	}
	if r.Status == abcitypes.VERIFY_VOTE_EXTENSION_STATUS_ACCEPT {
		t.Fatal("a vote on another height accepted")
	}
}

func TestProposalCertificate(t *testing.T) {
	s := newAppSet(t)
	exts := s.extensions(t)
	a := s.apps[0]
	user := []byte("some transaction")
	prep, err := a.PrepareProposal(context.Background(), &abcitypes.PrepareProposalRequest{Height: 2, MaxTxBytes: 1 << 20,
		Txs: [][]byte{user, append(bytes.Clone(certMagic), 1, 2, 3)}, LocalLastCommit: s.commitInfo(exts, 0, 1, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != 2 || !isCertTx(prep.Txs[0]) || !bytes.Equal(prep.Txs[1], user) {
		t.Fatalf("prepared %d transactions, want the certificate then the user's (the mempool's certificate dropped)", len(prep.Txs))
	}
	if !accepted(t, a, 2, prep.Txs) {
		t.Fatal("the prepared block with its certificate refused")
	}
	c, err := qc.Decode(prep.Txs[0][len(certMagic):])
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Votes) != 3 {
		t.Fatalf("certificate of %d votes, want 3", len(c.Votes))
	}

	if accepted(t, a, 2, [][]byte{user}) {
		t.Fatal("a block without its certificate accepted")
	}
	if accepted(t, a, 2, [][]byte{prep.Txs[0], user, prep.Txs[0]}) {
		t.Fatal("a block with a second certificate accepted")
	}
	if accepted(t, a, 1, prep.Txs) {
		t.Fatal("a certificate accepted in block 1, which carries none")
	}
	if !accepted(t, a, 1, [][]byte{user}) {
		t.Fatal("block 1 without a certificate refused")
	}
	// Two votes (20 of 40) make no certificate: the proposal goes without, and is refused.
	prep, err = a.PrepareProposal(context.Background(), &abcitypes.PrepareProposalRequest{Height: 2, MaxTxBytes: 1 << 20,
		Txs: [][]byte{user}, LocalLastCommit: s.commitInfo(exts, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != 1 || accepted(t, a, 2, prep.Txs) {
		t.Fatalf("with 2 of 4 votes: %d transactions prepared, or the block accepted", len(prep.Txs))
	}
	// A certificate whose votes are below the quorum, assembled by hand, is refused too.
	c.Votes = c.Votes[:2]
	enc, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if accepted(t, a, 2, [][]byte{append(bytes.Clone(certMagic), enc...)}) {
		t.Fatal("a certificate of 2 of 4 votes accepted")
	}
}

func TestCheckTxRefusesCertificates(t *testing.T) {
	s := newAppSet(t)
	for _, typ := range []abcitypes.CheckTxType{abcitypes.CHECK_TX_TYPE_CHECK, abcitypes.CHECK_TX_TYPE_RECHECK} {
		r, err := s.apps[0].CheckTx(context.Background(), &abcitypes.CheckTxRequest{Type: typ, Tx: append(bytes.Clone(certMagic), 1)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code == CodeOK {
			t.Fatalf("%v: a certificate-shaped transaction admitted", typ)
		}
	}
	r, err := s.apps[0].CheckTx(context.Background(), &abcitypes.CheckTxRequest{Type: abcitypes.CHECK_TX_TYPE_CHECK, Tx: []byte{0xc0}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Code == CodeOK || r.Log == "" {
		t.Fatalf("junk admitted (code %d, log %q)", r.Code, r.Log)
	}
	if _, err := s.apps[0].Commit(context.Background(), &abcitypes.CommitRequest{}); err == nil {
		t.Fatal("Commit without a finalized block succeeded")
	}
}

// TestCheckTxPolicy: CheckTx is l1/node's mempool policy (here: one transaction per nonce), and
// a recheck keeps a transaction while the node's mempool holds it.
func TestCheckTxPolicy(t *testing.T) {
	s := newAppSet(t)
	user := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xb9})
	raws := map[uint64][]byte{} // by amount (signing is randomized: sign each once)
	for _, amount := range []uint64{0, 1} {
		raw, err := chain.SignTx(user, chain.TxTransfer, testChainID, 0, &chain.Transfer{To: user.Address(), Amount: amount})
		if err != nil {
			t.Fatal(err)
		}
		raws[amount] = raw
	}
	check := func(typ abcitypes.CheckTxType, amount uint64) *abcitypes.CheckTxResponse {
		r, err := s.apps[1].CheckTx(context.Background(), &abcitypes.CheckTxRequest{Type: typ, Tx: raws[amount]})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := check(abcitypes.CHECK_TX_TYPE_CHECK, 0); r.Code != CodeOK {
		t.Fatalf("a valid transfer refused: %s", r.Log)
	}
	if r := check(abcitypes.CHECK_TX_TYPE_RECHECK, 0); r.Code != CodeOK {
		t.Fatalf("recheck of a pooled transfer refused: %s", r.Log)
	}
	r := check(abcitypes.CHECK_TX_TYPE_CHECK, 1) // the same nonce again; nor can it pay 1
	if r.Code == CodeOK || !strings.Contains(r.Log, node.ErrNonceTaken.Error()) {
		t.Fatalf("a second transaction of nonce 0: code %d, log %q; want %q", r.Code, r.Log, node.ErrNonceTaken)
	}
	if r := check(abcitypes.CHECK_TX_TYPE_RECHECK, 1); r.Code == CodeOK {
		t.Fatal("recheck kept a transaction the node's mempool does not hold")
	}
}

func TestGenesisRefusals(t *testing.T) {
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xc0})
	ck := ed25519.GenPrivKeyFromSecret([]byte{0xc0}).PubKey().Bytes()
	ck2 := ed25519.GenPrivKeyFromSecret([]byte{0xc1}).PubKey().Bytes()
	k2 := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xc1})
	cases := map[string][]Validator{
		"no validators":       nil,
		"short pq key":        {{PQKey: k.Public().Bytes()[:10], ConsensusKey: ck, Power: 1}},
		"short consensus key": {{PQKey: k.Public().Bytes(), ConsensusKey: ck[:31], Power: 1}},
		"zero power":          {{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 0}},
		"consensus key twice": {{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 1}, {PQKey: k2.Public().Bytes(), ConsensusKey: ck, Power: 1}},
		"pq key twice":        {{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 1}, {PQKey: k.Public().Bytes(), ConsensusKey: ck2, Power: 1}},
		"power above int64":   {{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 1 << 63}},
		"total above limit": {{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 1 << 59},
			{PQKey: k2.Public().Bytes(), ConsensusKey: ck2, Power: 1 << 59}},
	}
	for name, vals := range cases {
		if _, err := GenesisDoc(testChainID, 1_700_000_000_000, vals); err == nil {
			t.Errorf("%s: genesis accepted", name)
		}
	}
	doc, err := GenesisDoc(testChainID, 1_700_000_000_000, []Validator{{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if doc.ChainID != CometChainID(testChainID) || len(doc.Validators) != 1 || doc.Validators[0].Power != 5 ||
		doc.ConsensusParams.Feature.VoteExtensionsEnableHeight != 1 || doc.ConsensusParams.Block.MaxBytes != node.DefaultMaxBlockBytes {
		t.Fatalf("genesis %+v", doc)
	}
}

// TestProposalTxCount: a proposal takes at most node.DefaultMaxBlockTxs transactions besides its
// certificate, and a block with more is refused.
func TestProposalTxCount(t *testing.T) {
	s := newAppSet(t)
	exts := s.extensions(t)
	many := make([][]byte, node.DefaultMaxBlockTxs+5)
	for i := range many {
		many[i] = []byte{byte(i), byte(i >> 8)}
	}
	prep, err := s.apps[0].PrepareProposal(context.Background(), &abcitypes.PrepareProposalRequest{Height: 2, MaxTxBytes: 1 << 20,
		Txs: many, LocalLastCommit: s.commitInfo(exts, 0, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(prep.Txs) != node.DefaultMaxBlockTxs+1 || !accepted(t, s.apps[0], 2, prep.Txs) {
		t.Fatalf("prepared %d transactions, want the certificate and %d, accepted", len(prep.Txs), node.DefaultMaxBlockTxs)
	}
	if accepted(t, s.apps[0], 2, append(prep.Txs, []byte{0xff})) {
		t.Fatal("a block of one transaction too many accepted")
	}
}

// TestNewNeedsTheStakedGenesis: the application refuses an L1 genesis without the validator set
// (the certificates' sets are chain state) and one whose set is not the configured one.
func TestNewNeedsTheStakedGenesis(t *testing.T) {
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xc0})
	ck := ed25519.GenPrivKeyFromSecret([]byte{0xc0}).PubKey().Bytes()
	vals := []Validator{{PQKey: k.Public().Bytes(), ConsensusKey: ck, Power: 5}}
	for name, tc := range map[string]struct {
		genesis []chain.GenesisValidator
		want    string
	}{
		"no set":    {nil, "needs the validators"},
		"other set": {[]chain.GenesisValidator{{PQKey: k.Public().Bytes(), ConsensusKey: ck, Stake: 6}}, "is not the configured set"},
		"same set":  {GenesisValidators(vals), ""},
	} {
		n, err := node.New(node.Config{Dir: filepath.Join(t.TempDir(), "l1"), ExternalConsensus: true,
			Genesis: chain.Genesis{ChainID: testChainID, Validator: k.Public().Bytes(), Timestamp: 1_700_000_000_000,
				Validators: tc.genesis, Staking: chain.Staking{EpochLength: testEpoch, MinStake: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{Node: n, Key: k, Validators: vals})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
