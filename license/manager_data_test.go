package license_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/geo"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/risk"
	"github.com/magic-sessionmanager/sessionmanager/store/storetest"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

const (
	londonIP = "81.2.69.160"   // in the test City database and on the datacenter list
	torIP    = "185.220.101.5" // on the Tor exit list: blocked by the default policy
)

// writeMMDB writes a small .mmdb with the real MaxMind writer.
func writeMMDB(t *testing.T, path, dbType string, nets map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, IPVersion: 6, RecordSize: 28, Languages: []string{"en"}})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openGeo opens the real geo resolver on a City and an ASN database and
// Tor and datacenter lists written for the test.
func openGeo(t *testing.T) *geo.Resolver {
	t.Helper()
	dir := t.TempDir()
	en := func(s string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(s)} }
	city := filepath.Join(dir, "city.mmdb")
	writeMMDB(t, city, "GeoLite2-City", map[string]mmdbtype.Map{"81.2.69.0/24": {
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": en("United Kingdom")},
		"city":     mmdbtype.Map{"names": en("London")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931), "accuracy_radius": mmdbtype.Uint16(10), "time_zone": mmdbtype.String("Europe/London")},
	}})
	asn := filepath.Join(dir, "asn.mmdb")
	writeMMDB(t, asn, "GeoLite2-ASN", map[string]mmdbtype.Map{"81.2.69.0/24": {
		"autonomous_system_number": mmdbtype.Uint32(64500), "autonomous_system_organization": mmdbtype.String("Example Hosting Ltd"),
	}})
	tor, dc := filepath.Join(dir, "tor.txt"), filepath.Join(dir, "dc.txt")
	os.WriteFile(tor, []byte(torIP+"\n"), 0o644)
	os.WriteFile(dc, []byte("81.2.69.0/24\n"), 0o644)
	r, err := geo.Open(context.Background(), geo.Config{DBPaths: []string{city, asn}, TorExits: []string{tor}, DatacenterRanges: []string{dc}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newManager wires a real Manager on st gated by lic, registers "ada"
// and returns a login function for her.
func newManager(t *testing.T, st storetest.Store, c *sm.ManualClock, lic *license.State) func(ip string) (*sm.LoginResult, error) {
	t.Helper()
	ctx := context.Background()
	sec, err := token.NewSecrets(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeyring(ctx, st, sec, token.Config{Issuer: "test", Audience: "test", TTL: 15 * time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sm.New(sm.Config{Store: st, Tokens: keys, Secrets: sec, InstanceID: "test",
		Passwords:  password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}),
		UserAgents: device.New(), Geo: openGeo(t), Risk: risk.New(), Clock: c, Logger: quietLogger(),
		Allows: lic.Allows})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)

	const pw = "a long enough password"
	from := func(ip string) sm.ClientInfo {
		return sm.ClientInfo{IP: netip.MustParseAddr(ip), UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	}
	if _, err := m.Register(ctx, sm.RegisterInput{Username: "ada", Email: "ada@example.com", Password: pw}, from(londonIP)); err != nil {
		t.Fatal(err)
	}
	return func(ip string) (*sm.LoginResult, error) { return m.Login(ctx, "ada", pw, from(ip)) }
}

// TestPremiumLocksAdvancedInManager: Premium records location and score
// but no threat flags, and blocks nothing.
func TestPremiumLocksAdvancedInManager(t *testing.T) {
	ctx := context.Background()
	v, c := newVendor(), newClock()
	st := openStore(t)
	lic, _ := newState(t, v, c, func(o *license.Options) { o.Store = st })
	if _, err := lic.Set(ctx, v.issue(t, license.EditionPremium, t0, t0.AddDate(1, 0, 0))); err != nil {
		t.Fatal(err)
	}
	login := newManager(t, st, c, lic)
	res, err := login(londonIP)
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Location.City != "London" || res.Session.Threat.Any() {
		t.Fatalf("premium: location %+v threat %+v", res.Session.Location, res.Session.Threat)
	}
	if _, err := login(torIP); err != nil {
		t.Fatalf("premium: Tor login = %v, want allowed (blocking is Advanced)", err)
	}
}

// TestExpiryLocksFeaturesButKeepsData runs a real Manager on SQLite with
// the real geo resolver and risk engine, gated by a licence State.
func TestExpiryLocksFeaturesButKeepsData(t *testing.T) {
	ctx := context.Background()
	v, c := newVendor(), newClock()
	st := openStore(t)
	lic, _ := newState(t, v, c, func(o *license.Options) { o.Store = st })
	expiry := t0.Add(10 * 24 * time.Hour)
	if _, err := lic.Set(ctx, v.issue(t, license.EditionAdvanced, t0, expiry)); err != nil {
		t.Fatal(err)
	}

	login := newManager(t, st, c, lic)

	// Advanced: location, ISP, threat flags and a score are recorded; Tor is blocked.
	c.Set(t0.Add(time.Hour))
	early, err := login(londonIP)
	if err != nil {
		t.Fatal(err)
	}
	if loc := early.Session.Location; loc.City != "London" || loc.CountryCode != "GB" || loc.ISP != "Example Hosting Ltd" || !loc.HasCoordinates {
		t.Fatalf("advanced login location %+v", loc)
	}
	if !early.Session.Threat.Datacenter || early.Session.Score >= 100 || len(early.Session.Reasons) == 0 {
		t.Fatalf("advanced login threat %+v score %d reasons %v", early.Session.Threat, early.Session.Score, early.Session.Reasons)
	}
	if _, err := login(torIP); sm.ErrorCode(err) != sm.EFORBIDDEN {
		t.Fatalf("advanced: Tor login = %v, want blocked", err)
	}

	// The licence expires: IP only, score 100, nothing blocked.
	c.Set(expiry)
	late, err := login(londonIP)
	if err != nil {
		t.Fatal(err)
	}
	if late.Session.Location != (sm.Location{}) || late.Session.Threat.Any() || late.Session.Score != 100 || len(late.Session.Reasons) != 0 {
		t.Fatalf("expired: location %+v threat %+v score %d reasons %v", late.Session.Location, late.Session.Threat, late.Session.Score, late.Session.Reasons)
	}
	if late.Session.IP != netip.MustParseAddr(londonIP) {
		t.Fatalf("expired: IP %s not recorded", late.Session.IP)
	}
	if _, err := login(torIP); err != nil {
		t.Fatalf("expired: Tor login = %v, want allowed (no blocking in Free)", err)
	}

	// Nothing was deleted: the earlier session keeps what Advanced found.
	kept, err := st.SessionByID(ctx, early.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Location.City != "London" || kept.Location.ISP != "Example Hosting Ltd" || kept.Score != early.Session.Score || !kept.Threat.Datacenter || len(kept.Reasons) != len(early.Session.Reasons) {
		t.Fatalf("earlier session lost data: location %+v score %d threat %+v", kept.Location, kept.Score, kept.Threat)
	}

	// Re-activation restores everything on the next login.
	if _, err := lic.Set(ctx, v.issue(t, license.EditionAdvanced, expiry, expiry.AddDate(1, 0, 0))); err != nil {
		t.Fatal(err)
	}
	again, err := login(londonIP)
	if err != nil {
		t.Fatal(err)
	}
	if again.Session.Location.City != "London" || !again.Session.Threat.Datacenter || again.Session.Score >= 100 {
		t.Fatalf("re-activated: location %+v threat %+v score %d", again.Session.Location, again.Session.Threat, again.Session.Score)
	}
	if _, err := login(torIP); sm.ErrorCode(err) != sm.EFORBIDDEN {
		t.Fatalf("re-activated: Tor login = %v, want blocked", err)
	}
}
