package sessionmanager

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	l := DefaultThrottleLimits
	ms := time.Millisecond
	tests := []struct {
		name        string
		account, ip int64
		limits      ThrottleLimits
		delay       time.Duration
		refuse      bool
		retry       time.Duration
	}{
		{"no failures", 0, 0, l, 0, false, 0},
		{"account below", 4, 0, l, 0, false, 0},
		{"account at slow-after", 5, 0, l, 250 * ms, false, 0},
		{"account doubles", 6, 0, l, 500 * ms, false, 0},
		{"account doubles again", 7, 0, l, time.Second, false, 0},
		{"account capped", 10, 0, l, 8 * time.Second, false, 0},
		{"account never refuses", 1_000_000, 0, l, 8 * time.Second, false, 0},
		{"account huge count does not overflow", math.MaxInt64, 0, l, 8 * time.Second, false, 0},
		{"ip below", 0, 19, l, 0, false, 0},
		{"ip at slow-after", 0, 20, l, 250 * ms, false, 0},
		{"ip progression", 0, 23, l, 2 * time.Second, false, 0},
		{"ip capped before refusal", 0, 99, l, 8 * time.Second, false, 0},
		{"ip refused", 0, 100, l, 0, true, 15 * time.Minute},
		{"ip refused whatever the account", 3, 5000, l, 0, true, 15 * time.Minute},
		{"larger of the two delays", 6, 23, l, 2 * time.Second, false, 0},
		{"negative counts", -5, -5, l, 0, false, 0},
		{"all off", 1000, 1000, ThrottleLimits{}, 0, false, 0},
		{"no cap", 5 + 70, 0, ThrottleLimits{AccountSlowAfter: 5, BaseDelay: ms}, time.Duration(math.MaxInt64), false, 0},
		{"base above cap", 5, 0, ThrottleLimits{AccountSlowAfter: 5, BaseDelay: time.Minute, MaxDelay: time.Second}, time.Second, false, 0},
		{"refusal without window", 0, 10, ThrottleLimits{IPRefuseAfter: 10, MaxDelay: 5 * time.Minute}, 0, true, 5 * time.Minute},
		{"refusal without window or cap", 0, 10, ThrottleLimits{IPRefuseAfter: 10}, 0, true, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.limits.Decide(tc.account, tc.ip)
			want := ThrottleDecision{Delay: tc.delay, Refuse: tc.refuse, RetryAfter: tc.retry}
			if got != want {
				t.Errorf("Decide(%d, %d) = %+v, want %+v", tc.account, tc.ip, got, want)
			}
		})
	}
}

func TestThrottleDelayNeverDecreases(t *testing.T) {
	var prev time.Duration
	for n := int64(0); n < 200; n++ {
		d := DefaultThrottleLimits.Decide(n, 0)
		if d.Refuse || d.Delay < prev || d.Delay > DefaultThrottleLimits.MaxDelay {
			t.Fatalf("at %d failures: %+v after %v", n, d, prev)
		}
		prev = d.Delay
	}
}

// Decide keeps slowing one account but only ever refuses an address.
func ExampleThrottleLimits_Decide() {
	for _, n := range []int64{4, 5, 6, 9, 100} {
		d := DefaultThrottleLimits.Decide(n, 0)
		fmt.Printf("account failures %3d: delay %v refuse %v\n", n, d.Delay, d.Refuse)
	}
	d := DefaultThrottleLimits.Decide(0, 100)
	fmt.Printf("address failures 100: refuse %v, retry after %v\n", d.Refuse, d.RetryAfter)
	// Output:
	// account failures   4: delay 0s refuse false
	// account failures   5: delay 250ms refuse false
	// account failures   6: delay 500ms refuse false
	// account failures   9: delay 4s refuse false
	// account failures 100: delay 8s refuse false
	// address failures 100: refuse true, retry after 15m0s
}
