package alert

import (
	"encoding/json"
	"net/url"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
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
	// TriggerUserReported fires when a user says "This wasn't me" about a
	// sign-in (event session.reported).
	TriggerUserReported = "user_reported"
	// Login challenges (step-up): a login asked for a second proof, a
	// proof passed, a wrong proof.
	TriggerLoginChallenged = "login_challenged"
	TriggerChallengePassed = "challenge_passed"
	TriggerChallengeFailed = "challenge_failed"
	// TriggerSessionAnomaly fires when session protection judged a live
	// session's move worth an alert or more (event session.anomaly).
	TriggerSessionAnomaly = "session_anomaly"
)

// AllTriggers lists every known trigger name.
var AllTriggers = []string{
	TriggerNewCountry, TriggerVPN, TriggerProxy, TriggerTor, TriggerDatacenter, TriggerThreat,
	TriggerLowScore, TriggerLoginBlocked, TriggerRefreshReuse, TriggerNewDevice, TriggerImpossibleTravel,
	TriggerUserReported,
	TriggerLoginChallenged, TriggerChallengePassed, TriggerChallengeFailed,
	TriggerSessionAnomaly,
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

// storedRule is a rule as this package keeps it, in the settings store and
// in memory: the admin's sm.AlertRule with its channels' sealed secrets.
// Its Channels shadow AlertRule.Channels (always nil here), so the stored
// document keeps one "channels" array, as before the types moved to the
// root package.
type storedRule struct {
	sm.AlertRule
	Channels []Channel `json:"channels"`
}

// Channel is a channel as this package keeps it (in a stored rule and as a
// delivery's Target): the admin's sm.AlertChannel plus its sealed secrets.
type Channel struct {
	sm.AlertChannel
	// SealedSecret is the webhook secret sealed with the Sealer: what the
	// store and the outbox keep.
	SealedSecret []byte `json:"sealedSecret,omitempty"`
	// SealedURL is the URL of a slack or discord channel sealed with the
	// Sealer (the URL is that channel's bearer secret): the store and the
	// outbox keep only this.
	SealedURL []byte `json:"sealedUrl,omitempty"`
}

// storedFrom is an admin's rule as this package keeps it, before it is
// prepared: no sealed blob can come from input.
func storedFrom(in sm.AlertRule) storedRule {
	r := storedRule{AlertRule: in}
	r.AlertRule.Channels = nil
	r.Triggers = append([]string(nil), in.Triggers...)
	r.Channels = make([]Channel, len(in.Channels))
	for i, c := range in.Channels {
		c.To = append([]string(nil), c.To...)
		r.Channels[i] = Channel{AlertChannel: c}
	}
	return r
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

// redacted is r as admins see it: secrets masked, sealed blobs left out.
func (r storedRule) redacted() sm.AlertRule {
	out := r.AlertRule
	out.Triggers = append([]string(nil), r.Triggers...)
	out.Channels = make([]sm.AlertChannel, len(r.Channels))
	for i, c := range r.Channels {
		ac := c.AlertChannel
		ac.To = append([]string(nil), c.To...)
		if len(c.SealedSecret) > 0 || c.Secret != "" {
			ac.Secret = maskedSecret
		}
		if c.isChat() {
			ac.URL = maskURL(c.URL) // the URL of a chat webhook is its secret
		}
		out.Channels[i] = ac
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
