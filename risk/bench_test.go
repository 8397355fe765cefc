package risk

import (
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// benchAssess runs Assess in a loop and checks the score so the compiler
// cannot drop the call.
func benchAssess(b *testing.B, s *sm.Settings, a sm.LoginAttempt, h sm.LoginHistory, score int) {
	b.Helper()
	var e Engine
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if out := e.Assess(s, a, h); out.Score != score {
			b.Fatalf("score %d, want %d", out.Score, score)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAssess scores a realistic login: a returning user with a few
// countries and devices signs in from a new country with a new browser
// twelve hours after their last activity, with some failed logins below
// the limits and an allow list in force.
func BenchmarkAssess(b *testing.B) {
	s := sm.DefaultSettings()
	s.AllowedCountries = []string{"DE", "AT", "CH", "FR", "NL", "JP"}
	s.BlockedCountries = []string{"KP", "IR"}
	h := sm.LoginHistory{
		Countries:        []string{"DE", "AT", "CH"},
		DeviceFamilies:   []string{"Chrome/macOS", "Safari/iOS", "Chrome/Android", "Edge/Windows"},
		Previous:         prevSession(berlin, 12*time.Hour),
		FailedForAccount: 2,
		FailedForIP:      3,
	}
	a := attempt(tokyo)
	a.Device = winFirefox
	benchAssess(b, s, a, h, 70)
}

// BenchmarkAssessClean is the common case: nothing fires.
func BenchmarkAssessClean(b *testing.B) {
	benchAssess(b, sm.DefaultSettings(), attempt(berlin), history(time.Hour), 100)
}

// BenchmarkAssessImpossibleTravel fires travel, new country and low score:
// the longest details and a Triggered map.
func BenchmarkAssessImpossibleTravel(b *testing.B) {
	benchAssess(b, sm.DefaultSettings(), attempt(sydney), history(70*time.Minute), 30)
}
