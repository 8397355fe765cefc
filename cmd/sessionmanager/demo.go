package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// demoPlace is a city of the demo world, reached through its own address block.
type demoPlace struct {
	cc, city, region string
	lat, lon         float64
	tz, isp          string
	asn              uint32
	threat           sm.Threat
}

// demoPlaces are real cities with made-up but plausible networks. The demo
// addresses 198.18.<place>.x (the RFC 2544 benchmarking range, which no real
// client has) are looked up in this table only.
var demoPlaces = []demoPlace{
	{"DE", "Berlin", "Berlin", 52.52, 13.405, "Europe/Berlin", "Deutsche Telekom AG", 3320, sm.Threat{}},
	{"DE", "Munich", "Bavaria", 48.137, 11.575, "Europe/Berlin", "Vodafone GmbH", 3209, sm.Threat{}},
	{"AT", "Vienna", "Vienna", 48.208, 16.373, "Europe/Vienna", "A1 Telekom Austria", 8447, sm.Threat{}},
	{"CH", "Zurich", "Zurich", 47.377, 8.541, "Europe/Zurich", "Swisscom", 3303, sm.Threat{}},
	{"GB", "London", "England", 51.507, -0.128, "Europe/London", "British Telecommunications", 2856, sm.Threat{}},
	{"FR", "Paris", "Île-de-France", 48.857, 2.352, "Europe/Paris", "Orange S.A.", 3215, sm.Threat{}},
	{"ES", "Madrid", "Madrid", 40.417, -3.704, "Europe/Madrid", "Telefonica de Espana", 3352, sm.Threat{}},
	{"IT", "Milan", "Lombardy", 45.464, 9.19, "Europe/Rome", "Telecom Italia", 3269, sm.Threat{}},
	{"NL", "Amsterdam", "North Holland", 52.368, 4.904, "Europe/Amsterdam", "KPN B.V.", 1136, sm.Threat{}},
	{"SE", "Stockholm", "Stockholm", 59.329, 18.069, "Europe/Stockholm", "Telia Company", 3301, sm.Threat{}},
	{"PL", "Warsaw", "Masovia", 52.23, 21.012, "Europe/Warsaw", "Orange Polska", 5617, sm.Threat{}},
	{"US", "New York", "New York", 40.713, -74.006, "America/New_York", "Verizon Business", 701, sm.Threat{}},
	{"US", "San Francisco", "California", 37.775, -122.419, "America/Los_Angeles", "Comcast Cable", 7922, sm.Threat{}},
	{"US", "Chicago", "Illinois", 41.878, -87.63, "America/Chicago", "AT&T Services", 7018, sm.Threat{}},
	{"US", "Ashburn", "Virginia", 39.044, -77.487, "America/New_York", "Amazon.com, Inc.", 16509, sm.Threat{Datacenter: true}},
	{"CA", "Toronto", "Ontario", 43.653, -79.383, "America/Toronto", "Rogers Communications", 812, sm.Threat{}},
	{"BR", "São Paulo", "São Paulo", -23.55, -46.633, "America/Sao_Paulo", "Claro S.A.", 28573, sm.Threat{}},
	{"MX", "Mexico City", "CDMX", 19.433, -99.133, "America/Mexico_City", "Telmex", 8151, sm.Threat{}},
	{"JP", "Tokyo", "Tokyo", 35.676, 139.65, "Asia/Tokyo", "NTT Communications", 4713, sm.Threat{}},
	{"SG", "Singapore", "Singapore", 1.352, 103.82, "Asia/Singapore", "Singtel", 7473, sm.Threat{}},
	{"IN", "Bengaluru", "Karnataka", 12.972, 77.595, "Asia/Kolkata", "Bharti Airtel", 9498, sm.Threat{}},
	{"AU", "Sydney", "New South Wales", -33.869, 151.209, "Australia/Sydney", "Telstra", 1221, sm.Threat{}},
	{"ZA", "Cape Town", "Western Cape", -33.925, 18.424, "Africa/Johannesburg", "Vodacom", 29975, sm.Threat{}},
	{"NL", "Amsterdam", "North Holland", 52.37, 4.89, "Europe/Amsterdam", "M247 Europe (VPN exit)", 9009, sm.Threat{VPN: true, Datacenter: true}},
	{"DE", "Frankfurt", "Hesse", 50.11, 8.682, "Europe/Berlin", "Tor exit relay", 24940, sm.Threat{Tor: true, Datacenter: true}},
	{"RU", "Moscow", "Moscow", 55.756, 37.617, "Europe/Moscow", "Rostelecom", 12389, sm.Threat{}},
}

// demoResolver answers lookups for the demo addresses 198.18.i.x from
// demoPlaces: demo data only, clearly labelled as such in the dashboard.
type demoResolver struct{}

func (demoResolver) Lookup(_ context.Context, ip netip.Addr) (sm.GeoResult, error) {
	if !ip.Is4() {
		return sm.GeoResult{}, nil
	}
	b := ip.As4()
	i := int(b[2])
	if b[0] != 198 || b[1] != 18 || i >= len(demoPlaces) {
		return sm.GeoResult{Location: sm.Location{Local: true}}, nil
	}
	p := demoPlaces[i]
	name, _ := sm.CountryName(p.cc)
	return sm.GeoResult{Found: true, Threat: p.threat, Location: sm.Location{
		CountryCode: p.cc, CountryName: name, Flag: sm.FlagEmoji(p.cc), Region: p.region, City: p.city,
		Latitude: p.lat, Longitude: p.lon, HasCoordinates: true, AccuracyKM: 20, TimeZone: p.tz, ASN: p.asn, ISP: p.isp}}, nil
}

// GeoStatus describes the demo data as the one source of every capability,
// so the demo's data page shows a source and no false warning.
func (demoResolver) GeoStatus() sm.GeoStatus {
	return sm.NewGeoStatus([]sm.GeoSource{{Name: "demo", Origin: "builtin", Format: "demo", Records: len(demoPlaces), Enabled: true,
		Provides:    []string{sm.GeoCountry, sm.GeoCity, sm.GeoASN, sm.GeoTor, sm.GeoVPN, sm.GeoProxy, sm.GeoDatacenter, sm.GeoThreat},
		Attribution: "Generated demo places (198.18.0.0/15, a benchmarking range): not real geolocation data"}}, false)
}

func demoIP(place int, r *rand.Rand) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(place), byte(r.IntN(250) + 1)})
}

var demoAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
	"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
}

var demoNames = []string{"ana", "ben", "chloe", "dmitri", "emma", "farid", "greta", "hiro", "isabel", "jonas", "kofi", "lena", "mateo", "nina",
	"oliver", "priya", "quentin", "rosa", "sven", "tara", "umar", "vera", "wei", "ximena", "yusuf", "zoe", "alex", "bea", "carlos", "dana",
	"elif", "finn", "gabriel", "hana", "ivan", "julia", "kai", "lucas", "maya", "noah"}

const demoPassword = "demo password"

// demo runs the service on a fresh store full of realistic users and
// sessions from around the world, with simulated logins and activity that
// keep coming, every feature unlocked. It says so, loudly.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dir := getenv("SM_DATA_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "sessionmanager-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	env := func(k string) string {
		switch k {
		case "SM_DATA_DIR":
			return dir
		case "DATABASE_URL":
			return "sqlite:" + filepath.Join(dir, "demo.db")
		case "SM_ADMIN_EMAIL":
			return "demo@localhost"
		case "SM_ADMIN_PASSWORD":
			return demoPassword
		case "SESSION_ENCRYPTION_KEY", "REDIS_URL":
			return ""
		}
		return getenv(k)
	}
	fmt.Fprintf(stdout, "DEMO MODE: demo data in %s, every feature unlocked. Sign in as demo@localhost / %q.\n", dir, demoPassword)
	return serveWith(ctx, args, env, stdout, stderr, func(c *config) {
		c.demo, c.demoGeo = true, demoResolver{}
	}, func(ctx context.Context, a *app) {
		seedDemo(ctx, a)
		simulateDemo(ctx, a)
	})
}

// seedDemo fills the store: users, live and past sessions, a few VPN and
// Tor logins, and a blocked attempt.
func seedDemo(ctx context.Context, a *app) {
	r := rand.New(rand.NewPCG(42, 7))
	m := a.manager
	for _, name := range demoNames {
		home := r.IntN(len(demoPlaces) - 3) // home is never a VPN/Tor/datacenter
		ua := demoAgents[r.IntN(len(demoAgents))]
		res, err := m.Register(ctx, sm.RegisterInput{Username: name, Email: name + "@example.com", Password: demoPassword},
			sm.ClientInfo{IP: demoIP(home, r), UserAgent: ua})
		if err != nil {
			a.log.Warn("demo: register", "user", name, "err", err)
			continue
		}
		for range r.IntN(3) {
			place := home
			if r.IntN(6) == 0 {
				place = r.IntN(len(demoPlaces))
			}
			_, _ = m.Login(ctx, name, demoPassword, sm.ClientInfo{IP: demoIP(place, r), UserAgent: demoAgents[r.IntN(len(demoAgents))]})
		}
		if r.IntN(5) == 0 {
			_ = m.EndSession(ctx, res.Session.ID, sm.EndLogout, sm.Actor{Type: sm.ActorUser, ID: res.User.ID})
		}
	}
	// A Tor login is blocked by the default policy; a VPN login only alerts.
	_, _ = m.Login(ctx, "dmitri", demoPassword, sm.ClientInfo{IP: demoIP(24, r), UserAgent: demoAgents[4]})
	_, _ = m.Login(ctx, "emma", demoPassword, sm.ClientInfo{IP: demoIP(23, r), UserAgent: demoAgents[0]})
	_, _ = m.Login(ctx, "farid", "not the password", sm.ClientInfo{IP: demoIP(25, r), UserAgent: demoAgents[4]})
}

// simulateDemo keeps the dashboard alive: logins, activity and logouts
// every few seconds until ctx ends.
func simulateDemo(ctx context.Context, a *app) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var live []*sm.LoginResult
	t, tick := a.cfg.clock.NewTicker(1500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		switch n := r.IntN(10); {
		case n < 4 || len(live) < 5:
			name := demoNames[r.IntN(len(demoNames))]
			res, err := a.manager.Login(ctx, name, demoPassword, sm.ClientInfo{IP: demoIP(r.IntN(len(demoPlaces)-2), r), UserAgent: demoAgents[r.IntN(len(demoAgents))]})
			if err == nil {
				live = append(live, res)
			}
		case n < 8:
			for range 3 {
				s := live[r.IntN(len(live))]
				_, _ = a.manager.Authenticate(ctx, s.AccessToken)
			}
		default:
			i := r.IntN(len(live))
			_ = a.manager.EndSession(ctx, live[i].Session.ID, sm.EndLogout, sm.Actor{Type: sm.ActorUser})
			live = append(live[:i], live[i+1:]...)
		}
	}
}
