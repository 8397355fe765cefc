package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// alertFields are the facts shown as fields in chat messages.
func alertFields(a *Alert) [][2]string {
	user := a.User.Email
	if a.User.Username != "" && a.User.Username != user {
		user = strings.TrimSpace(user + " (" + a.User.Username + ")")
	}
	device := strings.Trim(a.Session.Device.Browser+" / "+a.Session.Device.OS, " /")
	threats := threatList(a.Threat)
	reasons := make([]string, 0, len(a.Reasons))
	for _, r := range a.Reasons {
		reasons = append(reasons, r.Code)
	}
	fields := [][2]string{
		{"User", orDash(user)},
		{"Location", placeOf(a.Location)},
		{"IP", orDash(a.Session.IP)},
		{"Device", orDash(device)},
		{"Score", strconv.Itoa(a.Score)},
		{"Threat", orDash(strings.Join(threats, ", "))},
		{"Reasons", orDash(strings.Join(reasons, ", "))},
		{"Event", a.Type},
	}
	if a.Location.ISP != "" {
		fields = append(fields, [2]string{"Network", fmt.Sprintf("%s (AS%d)", a.Location.ISP, a.Location.ASN)})
	}
	return fields
}

func threatList(t sm.Threat) []string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{{t.Tor, "Tor"}, {t.VPN, "VPN"}, {t.Proxy, "proxy"}, {t.Datacenter, "datacenter"}, {t.KnownThreat, "known threat"}} {
		if f.on {
			out = append(out, f.name)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// chatSender posts a chat message built from the alert to the channel URL.
type chatSender struct {
	http   *httpPoster
	sealer Sealer
	build  func(*Alert) map[string]any
}

// Send posts the alert to the channel's webhook.
func (s chatSender) Send(ctx context.Context, d *sm.Delivery) error {
	url, a, err := chatTarget(d, s.sealer)
	if err != nil {
		return err
	}
	body, err := json.Marshal(s.build(a))
	if err != nil {
		return Permanent(err)
	}
	return s.http.post(ctx, url, body, nil)
}

// chatTarget reads the URL of a slack or discord delivery, opening the
// sealed one (a delivery written before URLs were sealed has it in clear).
func chatTarget(d *sm.Delivery, sealer Sealer) (string, *Alert, error) {
	var c Channel
	if err := json.Unmarshal(d.Target, &c); err != nil {
		return "", nil, Permanent(fmt.Errorf("%s target is invalid", d.Channel))
	}
	if len(c.SealedURL) > 0 {
		if sealer == nil {
			return "", nil, Permanent(fmt.Errorf("%s URL is sealed and the sender has no sealer", d.Channel))
		}
		u, err := sealer.Open(c.SealedURL, chatURLAD(d.RuleID))
		if err != nil {
			return "", nil, Permanent(fmt.Errorf("%s URL does not open (key rotated away?)", d.Channel))
		}
		c.URL = string(u)
	}
	if c.URL == "" {
		return "", nil, Permanent(fmt.Errorf("%s target is invalid", d.Channel))
	}
	var a Alert
	if err := json.Unmarshal(d.Payload, &a); err != nil {
		return "", nil, Permanent(fmt.Errorf("alert payload is invalid"))
	}
	return c.URL, &a, nil
}

// truncate cuts s to at most n runes, the limits of Slack and Discord.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
