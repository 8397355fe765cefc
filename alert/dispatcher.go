package alert

import (
	"context"
	"fmt"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Sender sends one delivery through one kind of channel.
type Sender interface {
	Send(ctx context.Context, d *sm.Delivery) error
}

// Dispatcher picks the Sender of a delivery's channel type.
type Dispatcher struct {
	senders map[string]Sender
}

// NewDispatcher returns a Dispatcher over senders keyed by channel type
// (email, slack, discord, webhook); a nil sender is left out.
func NewDispatcher(senders map[string]Sender) *Dispatcher {
	d := &Dispatcher{senders: map[string]Sender{}}
	for k, s := range senders {
		if s != nil {
			d.senders[k] = s
		}
	}
	return d
}

// Send sends d through its channel's sender. A channel with no sender
// configured (e.g. email without SMTP_URL) is a permanent failure.
func (p *Dispatcher) Send(ctx context.Context, d *sm.Delivery) error {
	s, ok := p.senders[d.Channel]
	if !ok {
		return Permanent(fmt.Errorf("no sender configured for channel %q", d.Channel))
	}
	return s.Send(ctx, d)
}
