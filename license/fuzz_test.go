package license_test

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// fuzzVendor is a fixed vendor key, so the seed corpus in
// testdata/fuzz/FuzzParse holds keys with genuine signatures.
func fuzzVendor() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i * 7)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// FuzzParse: no input panics; whatever parses has sane fields; whatever
// verifies re-issues to the same licence.
func FuzzParse(f *testing.F) {
	priv := fuzzVendor()
	good, err := license.Issue(priv, license.Licence{ID: "seed", Licensee: "Acme", Edition: license.EditionAdvanced, Seats: 5,
		IssuedAt: time.Unix(1700000000, 0), ExpiresAt: time.Unix(1900000000, 0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(strings.ReplaceAll(good, ".", ""))
	f.Add("MSM1..")
	f.Add("MSM1.e30." + strings.Repeat("A", 86))
	ver, err := license.NewVerifier(priv.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		lic, perr := license.Parse(key)
		vlic, verr := ver.Verify(key)
		if perr != nil {
			if verr == nil {
				t.Fatal("Verify accepted what Parse refused")
			}
			return
		}
		if !lic.Edition.Valid() || lic.Licensee == "" || !lic.ExpiresAt.After(lic.IssuedAt) || lic.Seats < 0 {
			t.Fatalf("Parse accepted bad fields: %+v", lic)
		}
		if verr == nil {
			if vlic != lic {
				t.Fatalf("Verify and Parse disagree: %+v vs %+v", vlic, lic)
			}
			again, err := license.Issue(priv, vlic)
			if err != nil {
				t.Fatalf("a verified licence does not re-issue: %v", err)
			}
			if back, err := ver.Verify(again); err != nil || back != vlic {
				t.Fatalf("re-issued licence differs: %+v, %v", back, err)
			}
		}
	})
}
