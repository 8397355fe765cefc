package alert

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// Triggers a rule can name.
const (
	TriggerNewCountry       = "new_country"
	TriggerVPN              = "vpn"
	TriggerProxy            = "proxy"
	TriggerTor              = "tor"
	TriggerDatacenter       = "datacenter"
	TriggerThreat           = "threat"
	TriggerLowScore         = "low_score"
	TriggerLoginBlocked     = "login_blocked"
	TriggerRefreshReuse     = "refresh_reuse"
	TriggerNewDevice        = "new_device"
	TriggerImpossibleTravel = "impossible_travel"
)

// AllTriggers lists every known trigger name.
var AllTriggers = []string{
	TriggerNewCountry, TriggerVPN, TriggerProxy, TriggerTor, TriggerDatacenter, TriggerThreat,
	TriggerLowScore, TriggerLoginBlocked, TriggerRefreshReuse, TriggerNewDevice, TriggerImpossibleTravel,
}

// Channel types.
const (
	ChannelEmail   = "email"
	ChannelSlack   = "slack"
	ChannelDiscord = "discord"
	ChannelWebhook = "webhook"
)

// maskedSecret is what List and Get show instead of a webhook secret.
const maskedSecret = "********"

// Rule says which login events raise an alert and where it goes.
type Rule struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Triggers fire the rule when any of them matches the event.
	Triggers []string `json:"triggers"`
	// Condition is an optional JavaScript expression or function body over
	// the event object; with triggers it must also return true, alone it
	// fires on every login event for which it returns true.
	Condition string `json:"condition,omitempty"`
	// LowScoreBelow makes the low_score trigger fire when score < it
	// (default: when the policy's low_score condition fired).
	LowScoreBelow *int      `json:"lowScoreBelow,omitempty"`
	Channels      []Channel `json:"channels"`
	// DisabledReason says why the server switched the rule off (its
	// condition exceeded its limits repeatedly); it is cleared when an admin
	// enables the rule again. Read-only: ignored on input.
	DisabledReason string    `json:"disabledReason,omitempty"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	UpdatedAt      time.Time `json:"updatedAt,omitzero"`
}

// Channel is one destination of a rule's alerts.
type Channel struct {
	// Type is email, slack, discord or webhook.
	Type string `json:"type"`
	// To are the recipients of an email channel.
	To []string `json:"to,omitempty"`
	// URL is the endpoint of a slack, discord or webhook channel.
	URL string `json:"url,omitempty"`
	// Secret is the webhook signing secret: in clear only on input; List and
	// Get show "********".
	Secret string `json:"secret,omitempty"`
	// SealedSecret is the secret sealed with the Sealer: what the store and
	// the outbox keep. Never in API output.
	SealedSecret []byte `json:"sealedSecret,omitempty"`
	// SealedURL is the URL of a slack or discord channel sealed with the
	// Sealer (the URL is that channel's bearer secret): the store and the
	// outbox keep only this. Never in API output.
	SealedURL []byte `json:"sealedUrl,omitempty"`
}

// isChat reports whether the channel's URL is its secret.
func (c Channel) isChat() bool { return c.Type == ChannelSlack || c.Type == ChannelDiscord }

// Sealer protects webhook secrets at rest (sessionmanager.Secrets is one).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// secretAD binds a sealed webhook secret to its rule, so a sealed blob
// copied into another rule does not open.
func secretAD(ruleID string) []byte { return []byte("msm/alert/webhook-secret/" + ruleID) }

// chatURLAD binds a sealed Slack or Discord URL to its rule.
func chatURLAD(ruleID string) []byte { return []byte("msm/alert/chat-url/" + ruleID) }

// redacted returns a copy of r that is safe to show: secrets masked.
func (r Rule) redacted() Rule {
	out := r
	out.Triggers = append([]string(nil), r.Triggers...)
	out.Channels = make([]Channel, len(r.Channels))
	for i, c := range r.Channels {
		c.To = append([]string(nil), c.To...)
		if len(c.SealedSecret) > 0 || c.Secret != "" {
			c.Secret = maskedSecret
		}
		if c.isChat() {
			c.URL = maskURL(c.URL) // the URL of a chat webhook is its secret
		}
		c.SealedSecret, c.SealedURL = nil, nil
		out.Channels[i] = c
	}
	return out
}

// targetJSON is the channel as a delivery's Target: the sealed secret and,
// for a chat channel whose URL is sealed, the sealed URL only.
func (c Channel) targetJSON() (json.RawMessage, error) {
	return json.Marshal(c.atRest())
}

// atRest is the channel as the store and the outbox keep it: no secret and
// no sealed chat URL in clear.
func (c Channel) atRest() Channel {
	c.Secret = ""
	if c.isChat() && len(c.SealedURL) > 0 {
		c.URL = ""
	}
	return c
}

// maskURL shows a chat webhook URL as scheme://host/******** : anyone who
// has the full URL can post to the channel.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return maskedSecret
	}
	return u.Scheme + "://" + u.Host + "/" + maskedSecret
}

// isMaskedURL reports whether raw is what maskURL shows.
func isMaskedURL(raw string) bool {
	return strings.HasSuffix(raw, "/"+maskedSecret) || raw == maskedSecret
}
