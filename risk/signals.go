package risk

import (
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// threatSignals adds one signal per threat flag. The flags stack on
// purpose: a Tor exit that is also a known attacker is worse than either.
func (c *collector) threatSignals(g *sm.GeoResult) {
	t := g.Threat
	if t.Tor {
		c.add(sm.ReasonTor, "Tor exit node")
	}
	if t.KnownThreat {
		c.add(sm.ReasonKnownThreat, "address is on a threat list")
	}
	if t.Proxy {
		c.add(sm.ReasonProxy, withNetwork("public proxy", &g.Location))
	}
	if t.VPN {
		c.add(sm.ReasonVPN, withNetwork("VPN", &g.Location))
	}
	if t.Datacenter {
		c.add(sm.ReasonDatacenter, withNetwork("hosting or datacenter network", &g.Location))
	}
}

// withNetwork appends the ISP (or AS number) so an admin sees whose network.
func withNetwork(what string, l *sm.Location) string {
	switch {
	case l.ISP != "":
		return what + " (" + l.ISP + ")"
	case l.ASN != 0:
		return what + " (AS" + strconv.FormatUint(uint64(l.ASN), 10) + ")"
	}
	return what
}

// newCountry fires when a user with history logs in from a country none of
// their earlier sessions came from. A first-ever login has nothing to
// compare with and is not "new". The previous session's country counts as
// known even when the store left it out of Countries.
func (c *collector) newCountry(l *sm.Location, h *sm.LoginHistory) {
	if l.CountryCode == "" || (len(h.Countries) == 0 && h.Previous == nil) {
		return
	}
	if containsFold(h.Countries, l.CountryCode) ||
		(h.Previous != nil && strings.EqualFold(h.Previous.Location.CountryCode, l.CountryCode)) {
		return
	}
	c.add(sm.ReasonNewCountry, "first login from "+countryLabel(l))
}

// newDevice fires when a user with history logs in with a browser/OS
// family none of their earlier sessions used. An unparsed user agent never
// fires: "unknown" is not a device the user could recognise. The previous
// session's family counts as known, as for countries.
func (c *collector) newDevice(d *sm.Device, h *sm.LoginHistory) {
	if d.Type == "" || d.Type == "unknown" || d.Browser == "" {
		return
	}
	if len(h.DeviceFamilies) == 0 && h.Previous == nil {
		return
	}
	if h.Previous != nil && strings.EqualFold(h.Previous.Device.Browser, d.Browser) &&
		strings.EqualFold(h.Previous.Device.OS, d.OS) {
		return
	}
	for _, f := range h.DeviceFamilies {
		if isFamily(f, d) {
			return
		}
	}
	if d.OS == "" {
		c.add(sm.ReasonNewDevice, "first login with "+d.Browser)
		return
	}
	c.add(sm.ReasonNewDevice, "first login with "+d.Browser+" on "+d.OS) // one allocation
}

// failedLogins fires on a burst of failed logins for the account or from
// the address; a limit of 0 turns that count off.
func (c *collector) failedLogins(h *sm.LoginHistory) {
	s := c.settings
	account := s.FailedLoginsAccount > 0 && h.FailedForAccount >= int64(s.FailedLoginsAccount)
	ip := s.FailedLoginsIP > 0 && h.FailedForIP >= int64(s.FailedLoginsIP)
	if !account && !ip {
		return
	}
	b := make([]byte, 0, 96)
	if account {
		b = appendThousands(b, h.FailedForAccount)
		b = append(b, " failed logins for this account"...)
	}
	if ip {
		if account {
			b = append(b, " and "...)
		}
		b = appendThousands(b, h.FailedForIP)
		b = append(b, " from this address"...)
	}
	if w := time.Duration(s.FailedLoginWindow); w > 0 {
		b = append(b, " in the last "...)
		b = appendElapsed(b, w)
	}
	c.add(sm.ReasonFailedLogins, string(b))
}

// isFamily reports whether family equals d.Family() ignoring ASCII case,
// without building the string: this runs for every family on every login.
func isFamily(family string, d *sm.Device) bool {
	b, o := len(d.Browser), len(d.OS)
	return len(family) == b+1+o && family[b] == '/' &&
		strings.EqualFold(family[:b], d.Browser) && strings.EqualFold(family[b+1:], d.OS)
}

// containsFold reports whether list holds v, ignoring ASCII case: stored
// codes are upper-case, but a hand-written history must not make a known
// country look new.
func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// countryLabel names the country of l for a person: "Japan".
func countryLabel(l *sm.Location) string {
	if l.CountryName != "" {
		return l.CountryName
	}
	if name, ok := sm.CountryName(l.CountryCode); ok {
		return name
	}
	return l.CountryCode
}
