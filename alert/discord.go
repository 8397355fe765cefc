package alert

import "time"

// DiscordSender posts embeds to Discord webhooks.
type DiscordSender struct{ chatSender }

// NewDiscordSender returns a Discord sender.
func NewDiscordSender(cfg HTTPConfig) *DiscordSender {
	return &DiscordSender{chatSender{http: newHTTPPoster(cfg), sealer: cfg.Sealer, build: discordMessage}}
}

// Embed colours by severity.
var severityColor = map[string]int{SeverityCritical: 0xE01E5A, SeverityWarning: 0xECB22E, SeverityInfo: 0x2EB67D}

// discordMessage builds the webhook body: one embed with title,
// description, colour, fields and timestamp; mentions disabled so a
// username like "@everyone" pings no one.
func discordMessage(a *Alert) map[string]any {
	fields := []any{}
	for _, f := range alertFields(a) {
		fields = append(fields, map[string]any{"name": f[0], "value": truncate(f[1], 1024), "inline": true})
	}
	footer := "Magic Session Manager · " + a.Severity + " · alert " + a.ID
	return map[string]any{
		"username":         "Magic Session Manager",
		"allowed_mentions": map[string]any{"parse": []any{}},
		"embeds": []any{map[string]any{
			"title":       truncate(a.Title, 256),
			"description": truncate(a.Summary, 4096),
			"color":       severityColor[a.Severity],
			"fields":      fields,
			"timestamp":   a.OccurredAt.UTC().Format(time.RFC3339),
			"footer":      map[string]any{"text": footer},
		}},
	}
}
