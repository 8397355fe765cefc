package sessionmanager

import "time"

// Clock tells the time. Tests pass a fake one so timeout rules are exact.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time in UTC, truncated to microseconds, the
// precision every store keeps.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
