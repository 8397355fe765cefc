package alert

import (
	"math/rand/v2"
	"time"
)

// backoff returns the delay before the next attempt after `failures`
// failed attempts: full jitter, uniform in [0, min(max, base*2^(failures-1))],
// never below the receiver's Retry-After hint (capped at max).
func backoff(failures int, base, max, hint time.Duration) time.Duration {
	ceiling := base
	for i := 1; i < failures && ceiling < max; i++ {
		ceiling *= 2
	}
	if ceiling > max {
		ceiling = max
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if hint > d {
		d = min(hint, max)
	}
	return d
}
