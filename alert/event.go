package alert

import (
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// loginEvents are the event types rules are evaluated on.
func isLoginEvent(t string) bool { return sm.IsAlertEvent(t) }

// conditionEvent builds the documented event object a condition sees. It is
// built fresh for each evaluation, so a condition that writes to it cannot
// change what the next one sees.
func conditionEvent(in *sm.AlertInput) map[string]any {
	ev := map[string]any{
		"type":     "",
		"at":       "",
		"user":     map[string]any{"id": "", "email": "", "username": ""},
		"session":  jsSession(in.Session, in),
		"location": jsLocation(in.Location),
		"threat": map[string]any{
			"vpn": in.Threat.VPN, "proxy": in.Threat.Proxy, "tor": in.Threat.Tor,
			"datacenter": in.Threat.Datacenter, "knownThreat": in.Threat.KnownThreat,
		},
		"score":    100,
		"reasons":  []any{},
		"previous": nil,
		"anomaly":  nil,
	}
	if a := in.Anomaly; a != nil {
		signals := make([]any, len(a.Signals))
		for i, r := range a.Signals {
			signals[i] = map[string]any{"code": r.Code, "detail": r.Detail}
		}
		ev["anomaly"] = map[string]any{"signals": signals, "action": string(a.Action), "refresh": a.Refresh,
			"before": jsPlace(&a.Before), "after": jsPlace(&a.After), "distanceKm": a.DistanceKM, "speedKmh": a.SpeedKMH}
	}
	if in.Event != nil {
		ev["type"] = in.Event.Type
		ev["at"] = in.Event.At.UTC().Format(time.RFC3339)
	}
	if in.User != nil {
		ev["user"] = map[string]any{"id": in.User.ID, "email": in.User.Email, "username": in.User.Username}
	}
	if in.Assessment != nil {
		ev["score"] = in.Assessment.Score
		reasons := make([]any, len(in.Assessment.Reasons))
		for i, r := range in.Assessment.Reasons {
			reasons[i] = map[string]any{"code": r.Code, "weight": r.Weight, "detail": r.Detail}
		}
		ev["reasons"] = reasons
	}
	if p := in.Previous; p != nil {
		prev := jsSession(p, nil)
		prev["at"] = p.CreatedAt.UTC().Format(time.RFC3339)
		prev["location"] = jsLocation(p.Location)
		ev["previous"] = prev
	}
	return ev
}

// jsSession is the session part of the event object; for a blocked login
// (no session) the IP and device come from the event and input.
func jsSession(s *sm.Session, in *sm.AlertInput) map[string]any {
	out := map[string]any{"id": "", "ip": "", "authMethod": ""}
	dev := sm.Device{}
	if s != nil {
		out["id"] = s.ID
		if s.IP.IsValid() {
			out["ip"] = s.IP.String()
		}
		out["authMethod"] = string(s.AuthMethod)
		dev = s.Device
	}
	if in != nil {
		if in.Device != (sm.Device{}) {
			dev = in.Device
		}
		if out["ip"] == "" && in.Event != nil {
			out["ip"] = in.Event.IP
		}
	}
	out["device"] = map[string]any{"type": dev.Type, "browser": dev.Browser, "os": dev.OS}
	return out
}

// jsPlace is one side of a session.anomaly in the event object.
func jsPlace(p *sm.AnomalyPlace) map[string]any {
	at := ""
	if !p.At.IsZero() {
		at = p.At.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"at": at, "ip": p.IP, "countryCode": p.CountryCode, "city": p.City, "asn": p.ASN, "isp": p.ISP,
		"latitude": p.Latitude, "longitude": p.Longitude,
		"device": map[string]any{"type": p.Device.Type, "browser": p.Device.Browser, "os": p.Device.OS},
		"threat": map[string]any{"vpn": p.Threat.VPN, "proxy": p.Threat.Proxy, "tor": p.Threat.Tor,
			"datacenter": p.Threat.Datacenter, "knownThreat": p.Threat.KnownThreat},
	}
}

func jsLocation(l sm.Location) map[string]any {
	return map[string]any{
		"countryCode": l.CountryCode, "countryName": l.CountryName, "city": l.City, "region": l.Region,
		"latitude": l.Latitude, "longitude": l.Longitude, "asn": l.ASN, "isp": l.ISP,
	}
}
