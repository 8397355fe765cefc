package alert

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
)

// maxRecipients caps the recipients of one email channel.
const maxRecipients = 50

// minSecretLen is the shortest webhook secret accepted.
const minSecretLen = 16

// normalize trims and lowercases r's names in place and returns the field
// errors of everything but the condition (compiled separately).
func (p TargetPolicy) validateRule(ctx context.Context, r *storedRule) map[string]string {
	bad := map[string]string{}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		bad["name"] = "required"
	} else if len(r.Name) > 200 {
		bad["name"] = "at most 200 characters"
	}
	var triggers []string
	given := len(r.Triggers)
	for i, t := range r.Triggers {
		t = strings.ToLower(strings.TrimSpace(t))
		if !slices.Contains(AllTriggers, t) {
			bad[fmt.Sprintf("triggers[%d]", i)] = "unknown trigger; one of " + strings.Join(AllTriggers, ", ")
			continue
		}
		if !slices.Contains(triggers, t) {
			triggers = append(triggers, t)
		}
	}
	r.Triggers = triggers
	if r.Triggers == nil {
		r.Triggers = []string{}
	}
	r.Condition = strings.TrimSpace(r.Condition)
	if given == 0 && r.Condition == "" {
		bad["triggers"] = "at least one trigger or a condition is required"
	}
	if r.LowScoreBelow != nil && (*r.LowScoreBelow < 1 || *r.LowScoreBelow > 100) {
		bad["lowScoreBelow"] = "must be between 1 and 100"
	}
	if len(r.Channels) == 0 {
		bad["channels"] = "at least one channel is required"
	}
	for i := range r.Channels {
		p.validateChannel(ctx, fmt.Sprintf("channels[%d]", i), &r.Channels[i], bad)
	}
	return bad
}

// validateChannel checks one channel and normalizes its addresses.
func (p TargetPolicy) validateChannel(ctx context.Context, prefix string, c *Channel, bad map[string]string) {
	c.Type = strings.ToLower(strings.TrimSpace(c.Type))
	switch c.Type {
	case ChannelEmail:
		if len(c.To) == 0 {
			bad[prefix+".to"] = "at least one recipient is required"
		}
		if len(c.To) > maxRecipients {
			bad[prefix+".to"] = fmt.Sprintf("at most %d recipients", maxRecipients)
		}
		for j, to := range c.To {
			a, err := mail.ParseAddress(strings.TrimSpace(to))
			if err != nil {
				bad[fmt.Sprintf("%s.to[%d]", prefix, j)] = "not an email address"
				continue
			}
			c.To[j] = a.Address
		}
		c.URL, c.Secret, c.SealedSecret = "", "", nil
	case ChannelSlack, ChannelDiscord, ChannelWebhook:
		c.URL = strings.TrimSpace(c.URL)
		if c.URL == "" {
			bad[prefix+".url"] = "required"
		} else if msg := p.CheckURL(ctx, c.URL); msg != "" {
			bad[prefix+".url"] = msg
		}
		c.To = nil
		if c.Type != ChannelWebhook {
			c.Secret, c.SealedSecret = "", nil
			return
		}
		if c.Secret == "" && len(c.SealedSecret) == 0 {
			bad[prefix+".secret"] = "required"
		} else if c.Secret != "" && len(c.Secret) < minSecretLen {
			bad[prefix+".secret"] = fmt.Sprintf("at least %d characters", minSecretLen)
		}
	case "":
		bad[prefix+".type"] = "required"
	default:
		bad[prefix+".type"] = "unknown channel type; one of email, slack, discord, webhook"
	}
}
