package chain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
)

// stake makes sure the rollup's sequencer stake backs the optimistic batch from is posting
// (docs/l1.md §5): the first optimistic batch with no stake locked locks Config.SequencerBond
// from from's balance, once; later batches post on that stake. While the stake is locked only
// its staker may post optimistic batches (another sequencer posts validity batches or waits
// until the stake is released). The caller stores r.
func (x *executor) stake(r *Rollup, from common.Address) error {
	if r.Stake > 0 {
		if r.Staker != from {
			return fmt.Errorf("%w: %s, rollup %d's stake is %s's until its pending batches finalize",
				ErrNotSequencer, from, r.ID, r.Staker)
		}
		return nil
	}
	if err := x.lockBond(from, r.Config.SequencerBond); err != nil {
		return err
	}
	r.Staker, r.Stake = from, r.Config.SequencerBond
	return nil
}

// slashStake slashes the rollup's stake once for an upheld fraud proof of challenger: half
// is paid to the challenger, the rest burned. It returns the reward. The sequencer must stake
// again (its next optimistic batch locks a new stake). The caller stores r.
func (x *executor) slashStake(r *Rollup, challenger common.Address) (uint64, error) {
	if r.Stake == 0 {
		return 0, nil
	}
	half := r.Stake / 2
	if err := x.releaseBond(challenger, r.Stake, half, r.Stake-half); err != nil {
		return 0, err
	}
	r.Staker, r.Stake = common.Address{}, 0
	return half, nil
}

// releaseStake returns the stake to its staker once no batch of r is pending. The caller
// stores r.
func (x *executor) releaseStake(r *Rollup) error {
	if r.Stake == 0 || r.FinalNumber < r.HeadNumber {
		return nil
	}
	if err := x.releaseBond(r.Staker, r.Stake, r.Stake, 0); err != nil {
		return err
	}
	r.Staker, r.Stake = common.Address{}, 0
	return nil
}
