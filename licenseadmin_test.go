package sessionmanager_test

import (
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

// licenseFixture is a licence state that trusts a vendor key of this test.
type licenseFixture struct {
	state  *license.State
	vendor ed25519.PrivateKey
}

// withLicense gives the Manager (Config.License) a licence state on its
// store that trusts the fixture's vendor key.
func withLicense(t *testing.T, f *licenseFixture) func(*sm.Config) {
	return func(c *sm.Config) {
		pub, priv := license.GenerateVendorKey()
		st, err := license.New(license.Options{PublicKey: pub, Store: c.Store.(sm.SettingsStore), Now: c.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		f.state, f.vendor = st, priv
		c.License = st
	}
}

// issue is an Advanced key of vendor, valid for a day from now.
func issue(t *testing.T, vendor ed25519.PrivateKey, now time.Time) string {
	t.Helper()
	key, err := license.Issue(vendor, license.Licence{ID: "lic-1", Licensee: "Test Ltd", Edition: license.EditionAdvanced,
		IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestLicenseSetAuditedInTheCore: a key set through Manager.LicenseAdmin
// (AdminCore.License) is put in force and audited once, naming the actor
// of the context; a refused key changes nothing and audits nothing.
func TestLicenseSetAuditedInTheCore(t *testing.T) {
	var lic licenseFixture
	e := newEnv(t, storeKinds[0], withLicense(t, &lic))
	admin := e.m.AdminCore().License
	if admin == nil {
		t.Fatal("AdminCore.License is nil with Config.License set")
	}
	ctx := sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin, ID: "token:ops", IP: "192.0.2.1"})
	if info := admin.LicenseInfo(); info.Edition != "free" || info.Status != "none" {
		t.Fatalf("no key: %+v", info)
	}
	if _, err := admin.SetLicense(ctx, "MSM1.garbage.x"); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("a bad key: %v, want EINVALID", err)
	}
	if got := adminActions(t, e, "license."); len(got) != 0 {
		t.Fatalf("a refused key was audited: %v", got)
	}

	// A key of another vendor is refused too; one of the trusted vendor is
	// put in force.
	_, otherVendor := license.GenerateVendorKey()
	foreign := issue(t, otherVendor, e.clock.Now())
	if _, err := admin.SetLicense(ctx, foreign); sm.ErrorCode(err) != sm.EINVALID {
		t.Fatalf("a key of another vendor: %v, want EINVALID", err)
	}
	key := issue(t, lic.vendor, e.clock.Now())
	info, err := admin.SetLicense(ctx, key)
	if err != nil || info.Edition != "advanced" || info.Status != "active" || info.ID != "lic-1" {
		t.Fatalf("a genuine key: %+v, %v", info, err)
	}
	if got, want := adminActions(t, e, "license."), []string{"license.set by token:ops"}; !slices.Equal(got, want) {
		t.Fatalf("audited %v, want %v", got, want)
	}
	raw, _, _ := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventAdminAction}, Limit: 100})
	if b, _ := json.Marshal(raw); strings.Contains(string(b), key) || !strings.Contains(string(b), `"licenseId":"lic-1"`) {
		t.Fatalf("the audit names the licence by id, never by key: %s", b)
	}
}

// TestNoLicenseAdminWithoutLicense: without Config.License the core has no
// licence admin (the API has no licence routes).
func TestNoLicenseAdminWithoutLicense(t *testing.T) {
	e := newEnv(t, storeKinds[0])
	if e.m.LicenseAdmin() != nil || e.m.AdminCore().License != nil {
		t.Fatal("a licence admin without Config.License")
	}
}
