package abci

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/api/cometbft/types/v1"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// The quorum certificates. Precommitting block H, each validator signs height H-1, the last it
// committed (ExtendVote); those votes reach the proposer of H+1 as CometBFT's extended commit,
// and it puts the certificate of height H-1 first in block H+1: block H carries the certificate
// of height H-2 (from H = 2 on; height 0 is the genesis state). ProcessProposal refuses a block
// without it, so every height gets one, stored beside the chain when the block carrying it
// commits.

// certMagic starts the certificate transaction; no L1 transaction (RLP) can start with it, and
// CheckTx refuses it.
var certMagic = []byte("pqbridge/l1-qc/v1:")

func isCertTx(tx []byte) bool { return bytes.HasPrefix(tx, certMagic) }

func txHash(tx []byte) common.Hash { return crypto.Keccak256Hash(tx) }

// header is the quorum header of a committed height, from the chain's store.
func (a *App) header(height uint64) (qc.Header, error) {
	b, err := a.chain.Block(height)
	if err != nil {
		return qc.Header{}, fmt.Errorf("abci: block %d: %w", height, err)
	}
	s, err := a.signers(height)
	if err != nil {
		return qc.Header{}, err
	}
	return qc.Header{ChainID: a.chain.ChainID(), Height: height, AppHash: b.Header.StateRoot, ValSetHash: s.set.Hash()}, nil
}

// Certificate returns the quorum certificate of a height, once the block carrying it (height+2)
// has committed.
func (a *App) Certificate(height uint64) (*qc.Certificate, error) {
	b, err := a.n.Certificate(height)
	if err != nil {
		return nil, err
	}
	return qc.Decode(b)
}

// ExtendVote signs the last committed height with the validator's ML-DSA-65 key.
func (a *App) ExtendVote(_ context.Context, req *abcitypes.ExtendVoteRequest) (*abcitypes.ExtendVoteResponse, error) {
	if a.key == nil || req.Height < 1 {
		return &abcitypes.ExtendVoteResponse{}, nil
	}
	h, err := a.header(uint64(req.Height) - 1)
	if err != nil {
		return nil, err
	}
	sig, err := qc.Sign(a.key, &h)
	if err != nil {
		return nil, err
	}
	ext, err := rlp.EncodeToBytes(&qc.Vote{Signer: a.key.Address(), Sig: sig})
	if err != nil {
		return nil, fmt.Errorf("abci: encoding the vote extension: %w", err)
	}
	return &abcitypes.ExtendVoteResponse{VoteExtension: ext}, nil
}

// VerifyVoteExtension accepts a precommit's extension only if it is the ML-DSA-65 vote, on the
// last committed height, of the validator whose CometBFT key made the precommit.
func (a *App) VerifyVoteExtension(_ context.Context, req *abcitypes.VerifyVoteExtensionRequest) (*abcitypes.VerifyVoteExtensionResponse, error) {
	if err := a.checkExtension(req.ValidatorAddress, uint64(req.Height)-1, req.VoteExtension, nil); err != nil {
		a.log.Warn("vote extension refused", "err", err, "height", req.Height, "validator", fmt.Sprintf("%X", req.ValidatorAddress))
		return &abcitypes.VerifyVoteExtensionResponse{Status: abcitypes.VERIFY_VOTE_EXTENSION_STATUS_REJECT}, nil
	}
	return &abcitypes.VerifyVoteExtensionResponse{Status: abcitypes.VERIFY_VOTE_EXTENSION_STATUS_ACCEPT}, nil
}

// checkExtension decodes a vote extension by the CometBFT validator cmtAddr on height and
// verifies it, adding it to b if b is not nil.
func (a *App) checkExtension(cmtAddr []byte, height uint64, ext []byte, b *qc.Builder) error {
	s, err := a.signers(height)
	if err != nil {
		return err
	}
	signer, ok := s.member[string(cmtAddr)]
	if !ok {
		return fmt.Errorf("%w: CometBFT validator %X", qc.ErrNotMember, cmtAddr)
	}
	var v qc.Vote
	if err := rlp.DecodeBytes(ext, &v); err != nil {
		return fmt.Errorf("%w: vote extension: %v", qc.ErrMalformed, err)
	}
	if v.Signer != signer {
		return fmt.Errorf("%w: vote by %s in the precommit of %s", qc.ErrNotMember, v.Signer, signer)
	}
	if b != nil {
		return b.Add(v.Signer, v.Sig)
	}
	h, err := a.header(height)
	if err != nil {
		return err
	}
	m, _ := s.set.Member(signer) // a member: member maps into the set
	return qc.VerifyVote(m.Key, &h, v.Sig)
}

// PrepareProposal puts the certificate of height-2, built from the extended commit of
// height-1, first in the block, then CometBFT's mempool transactions that fit, at most
// node.DefaultMaxBlockTxs of them (their ML-DSA verifications bound a block's execution).
func (a *App) PrepareProposal(_ context.Context, req *abcitypes.PrepareProposalRequest) (*abcitypes.PrepareProposalResponse, error) {
	var txs [][]byte
	size := int64(0)
	if req.Height >= 2 {
		cert, err := a.buildCertificate(uint64(req.Height)-2, req.LocalLastCommit.Votes)
		if err != nil {
			// Propose without it: ProcessProposal refuses the block and the round moves on.
			a.log.Error("no quorum certificate for the proposal", "err", err, "height", req.Height)
		} else {
			txs = append(txs, cert)
			size += int64(len(cert))
		}
	}
	first := len(txs)
	for _, tx := range req.Txs {
		if len(txs)-first >= node.DefaultMaxBlockTxs {
			break
		}
		if isCertTx(tx) || size+int64(len(tx)) > req.MaxTxBytes {
			continue
		}
		txs = append(txs, tx)
		size += int64(len(tx))
	}
	return &abcitypes.PrepareProposalResponse{Txs: txs}, nil
}

// buildCertificate collects the verified ML-DSA votes on height from the extended commit.
func (a *App) buildCertificate(height uint64, votes []abcitypes.ExtendedVoteInfo) ([]byte, error) {
	h, err := a.header(height)
	if err != nil {
		return nil, err
	}
	s, err := a.signers(height)
	if err != nil {
		return nil, err
	}
	b, err := qc.NewBuilder(s.set, h)
	if err != nil {
		return nil, err
	}
	for _, v := range votes {
		if v.BlockIdFlag != cmtproto.BlockIDFlagCommit {
			continue
		}
		if err := a.checkExtension(v.Validator.Address, height, v.VoteExtension, b); err != nil {
			a.log.Warn("vote extension left out of the certificate", "err", err, "height", height)
		}
	}
	c, err := b.Certificate()
	if err != nil {
		return nil, err
	}
	enc, err := c.Encode()
	if err != nil {
		return nil, fmt.Errorf("abci: encoding certificate %d: %w", height, err)
	}
	return append(bytes.Clone(certMagic), enc...), nil
}

// ProcessProposal accepts a block only if, from height 2 on, it starts with a valid certificate
// of height-2, carries no other certificate, and at most node.DefaultMaxBlockTxs transactions.
func (a *App) ProcessProposal(_ context.Context, req *abcitypes.ProcessProposalRequest) (*abcitypes.ProcessProposalResponse, error) {
	if err := a.checkProposal(req.Height, req.Txs); err != nil {
		a.log.Warn("proposal refused", "err", err, "height", req.Height, "proposer", fmt.Sprintf("%X", req.ProposerAddress))
		return &abcitypes.ProcessProposalResponse{Status: abcitypes.PROCESS_PROPOSAL_STATUS_REJECT}, nil
	}
	return &abcitypes.ProcessProposalResponse{Status: abcitypes.PROCESS_PROPOSAL_STATUS_ACCEPT}, nil
}

var errProposal = errors.New("abci: bad proposal")

func (a *App) checkProposal(height int64, txs [][]byte) error {
	first := 0
	if height >= 2 {
		if len(txs) == 0 || !isCertTx(txs[0]) {
			return fmt.Errorf("%w: block %d carries no quorum certificate", errProposal, height)
		}
		c, err := qc.Decode(txs[0][len(certMagic):])
		if err != nil {
			return err
		}
		h, err := a.header(uint64(height) - 2)
		if err != nil {
			return err
		}
		s, err := a.signers(h.Height)
		if err != nil {
			return err
		}
		if err := c.Verify(s.set, h.ChainID, h.Height, h.AppHash); err != nil {
			return err
		}
		first = 1
	}
	if n := len(txs) - first; n > node.DefaultMaxBlockTxs {
		return fmt.Errorf("%w: block %d has %d transactions, at most %d", errProposal, height, n, node.DefaultMaxBlockTxs)
	}
	for i, tx := range txs[first:] {
		if isCertTx(tx) {
			return fmt.Errorf("%w: block %d: transaction %d is a certificate", errProposal, height, first+i)
		}
	}
	return nil
}
