package alert

import "strings"

// SlackSender posts Block Kit messages to Slack incoming webhooks.
type SlackSender struct{ chatSender }

// NewSlackSender returns a Slack sender.
func NewSlackSender(cfg HTTPConfig) *SlackSender {
	return &SlackSender{chatSender{http: newHTTPPoster(cfg), sealer: cfg.Sealer, build: slackMessage}}
}

// slackEscape escapes the three characters Slack mrkdwn treats as markup,
// so a username cannot inject links or mentions.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var severityEmoji = map[string]string{SeverityCritical: ":rotating_light:", SeverityWarning: ":warning:", SeverityInfo: ":information_source:"}

// slackMessage builds the Block Kit payload: header, section with fields,
// context.
func slackMessage(a *Alert) map[string]any {
	fields := []any{}
	for _, f := range alertFields(a) {
		if len(fields) == 10 { // Slack's limit per section
			break
		}
		fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + f[0] + "*\n" + truncate(slackEscape.Replace(f[1]), 1900)})
	}
	context := severityEmoji[a.Severity] + " " + a.Severity
	if a.Rule != nil {
		context += " · rule " + slackEscape.Replace(a.Rule.Name)
	}
	context += " · " + a.OccurredAt.UTC().Format("2006-01-02 15:04:05 UTC") + " · alert " + a.ID
	return map[string]any{
		"text": truncate(slackEscape.Replace(a.Title+": "+a.Summary), 3000),
		"blocks": []any{
			map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(a.Title, 150), "emoji": true}},
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": truncate(slackEscape.Replace(a.Summary), 3000)}, "fields": fields},
			map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": context}}},
		},
	}
}
