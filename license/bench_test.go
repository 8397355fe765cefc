package license_test

import (
	"context"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// BenchmarkAllows is the gate's cost on the login path.
func BenchmarkAllows(b *testing.B) {
	v, c := newVendor(), newClock()
	s, _ := newState(b, v, c)
	if _, err := s.Set(context.Background(), v.issue(b, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0))); err != nil {
		b.Fatal(err)
	}
	for _, f := range []string{sm.FeatureGeo, sm.FeatureCondition, license.FeatureSessions} {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !s.Allows(f) {
					b.Fatal("locked")
				}
			}
		})
	}
}

// BenchmarkAllowsRealClock is the gate with time.Now, as in production.
func BenchmarkAllowsRealClock(b *testing.B) {
	v := newVendor()
	s, err := license.New(license.Options{PublicKey: v.pub, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Set(context.Background(), v.issue(b, license.EditionAdvanced, t0, t0.AddDate(100, 0, 0))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !s.Allows(sm.FeatureBlocking) {
			b.Fatal("locked")
		}
	}
}

// BenchmarkVerify is the cost of checking a key (Load, Set, daily Run).
func BenchmarkVerify(b *testing.B) {
	v := newVendor()
	ver, _ := license.NewVerifier(v.pub)
	key := v.issue(b, license.EditionAdvanced, t0, t0.AddDate(1, 0, 0))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ver.Verify(key); err != nil {
			b.Fatal(err)
		}
	}
}
