package sessionmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// AlertRule says which login events raise an alert and where it goes. It
// is the rule as admins read and write it: secrets appear only on input
// (in clear) and masked ("********") on output; package alert keeps them
// sealed at rest.
type AlertRule struct {
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
	LowScoreBelow *int           `json:"lowScoreBelow,omitempty"`
	Channels      []AlertChannel `json:"channels"`
	// DisabledReason says why the server switched the rule off (its
	// condition exceeded its limits repeatedly); it is cleared when an admin
	// enables the rule again. Read-only: ignored on input.
	DisabledReason string    `json:"disabledReason,omitempty"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	UpdatedAt      time.Time `json:"updatedAt,omitzero"`
}

// AlertChannel is one destination of a rule's alerts.
type AlertChannel struct {
	// Type is email, slack, discord or webhook.
	Type string `json:"type"`
	// To are the recipients of an email channel.
	To []string `json:"to,omitempty"`
	// URL is the endpoint of a slack, discord or webhook channel. A Slack or
	// Discord URL is that channel's secret: shown as scheme://host/********.
	URL string `json:"url,omitempty"`
	// Secret is the webhook signing secret: in clear only on input, shown
	// as "********". Left empty or masked on update, the stored one stays.
	Secret string `json:"secret,omitempty"`
}

// AlertRules is the admin of alert rules and of their deliveries. Package
// alert implements it (validation, sealing, sending); the Manager wraps it
// (Manager.AlertRules) with the licence gate and the audit, and the front
// ends call only that wrapper. Errors are *Error: EINVALID with Fields
// ({"condition": "line 2, column 7: ..."}), ENOTFOUND, feature_locked.
type AlertRules interface {
	// List returns every rule, secrets masked.
	List(ctx context.Context) ([]AlertRule, error)
	// Get returns rule id, secrets masked.
	Get(ctx context.Context, id string) (AlertRule, error)
	// Create validates and stores a new rule and returns it as stored.
	Create(ctx context.Context, r AlertRule) (AlertRule, error)
	// Update replaces rule id and returns it as stored.
	Update(ctx context.Context, id string, r AlertRule) (AlertRule, error)
	// Delete removes rule id.
	Delete(ctx context.Context, id string) error
	// TestChannel sends a sample alert through a channel given in full
	// (secret in clear) and returns the channel's error.
	TestChannel(ctx context.Context, c AlertChannel) error
	// TestRule sends a sample alert through every channel of rule id, with
	// its stored secrets.
	TestRule(ctx context.Context, id string) error
	// ListDeliveries lists one page of the outbox.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error)
	// RetryDelivery makes a dead delivery pending again.
	RetryDelivery(ctx context.Context, id int64) error
}

// DecodeAlertRule reads a rule as an admin writes it (API body, dashboard
// editor): one JSON object, no unknown field; "enabled" left out means
// enabled, so it only has to be sent to save a rule switched off. A bad
// document is EINVALID with the error under field, placed by line and
// column where the JSON says where ("line 3, column 3: ...").
func DecodeAlertRule(src []byte, field string) (AlertRule, error) {
	r := AlertRule{Enabled: true}
	bad := func(msg string) (AlertRule, error) {
		return r, &Error{Code: EINVALID, Message: "invalid alert rule: " + msg, Fields: map[string]string{field: msg}}
	}
	trimmed := bytes.TrimSpace(src)
	if len(trimmed) == 0 {
		return bad("a JSON object is required")
	}
	if trimmed[0] != '{' {
		return bad("must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil && dec.More():
		return bad(jsonPlace(src, dec.InputOffset()) + "unexpected data after the object")
	case err == nil:
		return r, nil
	case errors.As(err, &syntaxErr):
		return bad(jsonPlace(src, syntaxErr.Offset-1) + syntaxErr.Error())
	case errors.As(err, &typeErr):
		return bad(jsonPlace(src, typeErr.Offset-1) + typeErr.Field + ": " + expectedJSON(typeErr.Type.Kind()) + " expected, not a JSON " + typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad(jsonPlace(src, int64(len(src))) + "unexpected end of JSON input")
	}
	return bad(strings.TrimPrefix(err.Error(), "json: "))
}

// jsonPlace is "line L, column C: " of byte offset at in src.
func jsonPlace(src []byte, at int64) string {
	line, col := 1, 1
	for i, c := range string(src) {
		if int64(i) >= at {
			break
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: ", line, col)
}

// expectedJSON names what JSON a Go kind is read from.
func expectedJSON(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a number"
}
