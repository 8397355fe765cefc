package sessionmanager

import (
	"encoding/json"
	"time"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
	// DeliveryDropped is an alert that was never to be sent: its rule's
	// condition returned false, failed or overran its limits (LastError
	// says which).
	DeliveryDropped = "dropped"

	// ErasedPayload replaces the payload of the deliveries of an erased
	// user's events, and ErasedDeliveryError explains a pending one ended
	// by the erasure (its alert would have carried the erased data).
	ErasedPayload       = `{"erased":true}`
	ErasedDeliveryError = "not sent: the user's personal data was erased (GDPR)"
)

// Delivery is one alert to send through one channel, kept durably in the
// outbox until it is delivered or dead-lettered.
type Delivery struct {
	ID       int64  `json:"id"`
	EventSeq int64  `json:"eventSeq"`
	RuleID   string `json:"ruleId"`
	// Channel is the channel type: email, slack, discord or webhook.
	Channel string `json:"channel"`
	// Target is the channel's configuration as the alert package encodes it
	// (secrets inside are sealed by that package).
	Target json.RawMessage `json:"-"`
	// Payload is the alert to send, as the alert package encodes it.
	Payload        json.RawMessage `json:"payload"`
	IdempotencyKey string          `json:"idempotencyKey"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	NextAttemptAt  time.Time       `json:"nextAttemptAt"`
	LastError      string          `json:"lastError,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	DeliveredAt    time.Time       `json:"deliveredAt,omitzero"`
}

// DeliveryFilter selects outbox entries.
type DeliveryFilter struct {
	Status string
	Limit  int
	Cursor string
}
