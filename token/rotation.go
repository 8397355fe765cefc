package token

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// DefaultRotationPeriod is how long a signing key signs before the schedule
// replaces it (SM_SIGNING_KEY_ROTATION).
const DefaultRotationPeriod = 30 * 24 * time.Hour

// Rotation triggers, as the audit event names them.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// maxRotationCheck bounds the wait between two checks of the schedule, so
// a rotation done elsewhere (the CLI, an earlier leader) is taken into
// account within the hour.
const maxRotationCheck = time.Hour

// EventRecorder appends an event to the audit log: *sessionmanager.Manager,
// or a store's AppendEvent for a one-shot command.
type EventRecorder interface {
	Record(ctx context.Context, e *sm.Event) error
}

// Rotator replaces a Keyring's signing key when it is older than Period,
// audits the rotation and tells every instance on the bus. Run it on one
// instance at a time (the leader); RotateNow is the manual rotation.
type Rotator struct {
	Keyring *Keyring
	// Period is the age at which the signing key is replaced (> 0).
	Period time.Duration
	// Audit records signing_key.rotated (nil: not recorded).
	Audit EventRecorder
	// Bus carries MsgSigningKeysChanged to the other instances (nil: they
	// pick the new key up through Keyring.Watch's periodic reload).
	Bus    sm.Bus
	Logger *slog.Logger
}

// Run rotates whenever the signing key reaches Period, until ctx ends.
func (r *Rotator) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, wait, err := r.rotateIfDue(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger().Error("signing key rotation failed; retrying", "err", err, "retryIn", wait)
		}
		t.Reset(wait)
	}
}

// RotateIfDue rotates when the signing key is at least Period old (another
// instance's rotation counts: the keys are reloaded first) and reports
// whether it did.
func (r *Rotator) RotateIfDue(ctx context.Context) (bool, error) {
	rotated, _, err := r.rotateIfDue(ctx)
	return rotated, err
}

// rotateIfDue is RotateIfDue that also answers how long to wait before the
// next check: until the key is due, at least a second, at most an hour.
// The next key is published SignLead before the signer reaches Period, so
// it signs from then; while a next key waits for its start, nothing is due.
func (r *Rotator) rotateIfDue(ctx context.Context) (bool, time.Duration, error) {
	retry := min(max(r.Period/10, time.Second), time.Minute)
	if err := r.Keyring.Reload(ctx); err != nil {
		return false, retry, err
	}
	now := r.Keyring.cfg.Now()
	if _, from := r.Keyring.Next(); !from.IsZero() {
		return false, min(max(from.Sub(now), time.Second), maxRotationCheck), nil
	}
	due := r.Keyring.SignerSince().Add(r.Period - r.Keyring.cfg.SignLead)
	if now.Before(due) {
		return false, min(max(due.Sub(now), time.Second), maxRotationCheck), nil
	}
	if _, err := r.RotateNow(ctx, TriggerSchedule); err != nil {
		return false, retry, err
	}
	return true, min(max(r.Period, time.Second), maxRotationCheck), nil
}

// RotateNow starts a rotation (Keyring.Rotate: the new key is published now
// and signs after the lead), records signing_key.rotated (actor system,
// with the trigger) and publishes MsgSigningKeysChanged. The rotation
// stands even when the audit or the bus fails: those are logged.
func (r *Rotator) RotateNow(ctx context.Context, trigger string) (Rotated, error) {
	return r.rotate(ctx, trigger, false)
}

// RotateImmediately is RotateNow with Keyring.RotateImmediately: the new
// key signs at once (emergency; verifiers with a cached JWKS refuse its
// tokens until they refetch).
func (r *Rotator) RotateImmediately(ctx context.Context, trigger string) (Rotated, error) {
	return r.rotate(ctx, trigger, true)
}

func (r *Rotator) rotate(ctx context.Context, trigger string, immediate bool) (Rotated, error) {
	now := r.Keyring.cfg.Now()
	rotate := r.Keyring.Rotate
	if immediate {
		rotate = r.Keyring.RotateImmediately
	}
	rot, err := rotate(ctx, now)
	if err != nil {
		return rot, err
	}
	log := r.logger()
	log.Info("signing key rotated", "newKeyId", rot.NewKeyID, "signsFrom", rot.SignsFrom, "retiredKeyIds", rot.RetiredKeyIDs, "retiredUntil", rot.RetiredUntil, "trigger", trigger, "immediate", immediate)
	if r.Audit != nil {
		data, _ := json.Marshal(map[string]any{
			"newKeyId": rot.NewKeyID, "signsFrom": rot.SignsFrom.UTC(), "retiredKeyIds": rot.RetiredKeyIDs,
			"retiredUntil": rot.RetiredUntil.UTC(), "trigger": trigger, "immediate": immediate,
		})
		e := &sm.Event{At: now, Type: sm.EventSigningKeyRotated, ActorType: sm.ActorSystem, Data: data}
		if err := r.Audit.Record(ctx, e); err != nil {
			log.Error("signing key rotation not recorded in the audit log", "newKeyId", rot.NewKeyID, "err", err)
		}
	}
	r.announce(ctx, now)
	return rot, nil
}

// Withdraw expires the retired key id at once (it leaked): it stops
// verifying and leaves the JWKS on every instance at its next reload, which
// the bus makes immediate. The key that signs cannot be withdrawn: rotate
// first. The withdrawal is audited (signing_key.withdrawn, actor system).
func (r *Rotator) Withdraw(ctx context.Context, id string) error {
	if err := r.Keyring.Reload(ctx); err != nil {
		return err
	}
	if id == r.Keyring.SignerID() {
		return sm.Errorf(sm.EINVALID, "key %s signs now: rotate first (sessionmanager keys rotate --now), then withdraw it", id)
	}
	if next, _ := r.Keyring.Next(); id == next {
		return sm.Errorf(sm.EINVALID, "key %s is the next signing key: replace it first (sessionmanager keys rotate --now), then withdraw it", id)
	}
	now := r.Keyring.cfg.Now()
	if err := r.Keyring.store.UpdateSigningKey(ctx, id, now, now); err != nil {
		return err
	}
	if err := r.Keyring.Reload(ctx); err != nil {
		return err
	}
	if r.Audit != nil {
		data, _ := json.Marshal(map[string]any{"keyId": id})
		if err := r.Audit.Record(ctx, &sm.Event{At: now, Type: sm.EventSigningKeyWithdrawn, ActorType: sm.ActorSystem, Data: data}); err != nil {
			r.logger().Error("signing key withdrawal not recorded in the audit log", "keyId", id, "err", err)
		}
	}
	r.announce(ctx, now)
	return nil
}

// announce tells every instance to reload the keys.
func (r *Rotator) announce(ctx context.Context, now time.Time) {
	if r.Bus == nil {
		return
	}
	if err := r.Bus.Publish(ctx, sm.Message{Kind: sm.MsgSigningKeysChanged, At: now}); err != nil {
		r.logger().Warn("signing key change not announced on the bus; instances pick it up on their next reload", "err", err)
	}
}

func (r *Rotator) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Watch keeps the keys current until ctx ends: it reloads them when the bus
// says a key was rotated (bus may be nil) and, in case a message was lost
// or the rotation came from elsewhere, every RetireGrace/2, so this
// instance stops signing with a retired key well before that key expires.
func (kr *Keyring) Watch(ctx context.Context, bus sm.Bus, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	// The first reload catches a rotation made before the subscription.
	kick := make(chan struct{}, 1)
	kick <- struct{}{}
	if bus != nil {
		unsubscribe := bus.Subscribe(func(m sm.Message) {
			if m.Kind != sm.MsgSigningKeysChanged {
				return
			}
			select {
			case kick <- struct{}{}:
			default: // a reload is already due
			}
		})
		defer unsubscribe()
	}
	t := time.NewTicker(kr.cfg.watchInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-t.C:
		}
		if err := kr.Reload(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reload signing keys", "err", err)
		}
	}
}
