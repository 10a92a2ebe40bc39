package chain

import "github.com/pqbridge/pqbridge/l1/l1api"

type WithdrawalStatus = l1api.WithdrawalStatus

// Withdrawal returns the status of entry index of batch number's withdrawal list, with the same
// ErrNotFound cases as Claimed.
func (c *Chain) Withdrawal(rollupID, number, index uint64) (*WithdrawalStatus, error) {
	var s WithdrawalStatus
	var err error
	if s.Claimed, err = c.claimMarked(rollupID, number, index); err != nil || !s.Claimed {
		return &s, err
	}
	var id uint64
	if err := c.read(keyClaimDelayed(rollupID, number, index), &id); isNotFound(err) {
		return &s, nil
	} else if err != nil {
		return nil, err
	}
	d, err := c.Delayed(rollupID, id)
	if err != nil {
		return nil, err
	}
	s.Delayed, s.DelayedID, s.ReleaseAt, s.Reason = true, d.ID, d.ReleaseAt, d.Reason
	s.Released, s.ReleasedAt, s.Amount, s.Recipient = d.Released, d.ReleasedAt, d.Amount, d.Recipient
	return &s, nil
}
