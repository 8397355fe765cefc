package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// WebhookSender posts the alert JSON, signed, to a generic HTTPS webhook.
type WebhookSender struct {
	http   *httpPoster
	sealer Sealer
	now    func() time.Time
}

// NewWebhookSender returns a webhook sender; sealer opens the channel's
// sealed secret.
func NewWebhookSender(cfg HTTPConfig, sealer Sealer, now func() time.Time) *WebhookSender {
	if now == nil {
		now = time.Now
	}
	return &WebhookSender{http: newHTTPPoster(cfg), sealer: sealer, now: now}
}

// Send posts d.Payload with the X-MSM-* headers.
func (s *WebhookSender) Send(ctx context.Context, d *sm.Delivery) error {
	var c Channel
	if err := json.Unmarshal(d.Target, &c); err != nil || c.URL == "" {
		return Permanent(fmt.Errorf("webhook target is invalid"))
	}
	secret, err := s.sealer.Open(c.SealedSecret, secretAD(d.RuleID))
	if err != nil {
		return Permanent(fmt.Errorf("webhook secret does not open (key rotated away?)"))
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	return s.http.post(ctx, c.URL, d.Payload, map[string]string{
		HeaderTimestamp:      ts,
		HeaderSignature:      Sign(secret, ts, d.Payload),
		HeaderIdempotencyKey: d.IdempotencyKey,
	})
}
