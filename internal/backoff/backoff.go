// Package backoff is the one capped exponential backoff of the daemons: L1 redials
// (l1/l1client), settlement postings (settlement), provers marked down (prover/proverpool) and
// sequencer snapshot retries (l2/sequencer) all wait by it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Ceiling is the wait after the n-th failure in a row (n ≥ 1): base·2^(n−1), at most limit (and
// limit whatever n, base or an overflow). n ≤ 0 counts as 1.
func Ceiling(base, limit time.Duration, n int) time.Duration {
	if base <= 0 || base >= limit {
		return limit
	}
	d := base
	for k := 1; k < n; k++ {
		if d > limit/2 { // doubling would pass the limit (or overflow)
			return limit
		}
		d *= 2
	}
	return d
}

// Full is "full jitter": a uniform draw from [0, ceiling], so that clients that failed together
// do not retry in step.
func Full(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}
