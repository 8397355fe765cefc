package sessionmanager

import (
	"context"
	"strings"
	"time"
)

// Trusted devices: after a passed challenge with "remember this device",
// the device gets a token (256 random bits) that later logins of the same
// user present (the HttpOnly device cookie of a browser, or the
// deviceToken field of an API client). A login presenting a live token of
// its own user counts the device as known: no new_device, and no challenge
// for that device only. The store keeps only the token's keyed hash, and
// the hash is keyed with the user's id too, so a token copied to another
// account matches nothing.

// DefaultTrustedDeviceTTL is how long a remembered device stays trusted.
const DefaultTrustedDeviceTTL = 30 * 24 * time.Hour

// Audit event types of trusted devices.
const (
	// EventTrustedDeviceAdded: a device was remembered after a challenge.
	EventTrustedDeviceAdded = "trusted_device.added"
	// EventTrustedDeviceRevoked: the user or an admin forgot devices
	// (data.count, data.all).
	EventTrustedDeviceRevoked = "trusted_device.revoked"
)

// TrustedDevice is a remembered device of a user (never its token).
type TrustedDevice struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// Hash is the keyed hash of the device's token (user-bound).
	Hash []byte `json:"-"`
	// Name describes the device when it was remembered: "Firefox / Linux".
	Name       string    `json:"name"`
	IP         string    `json:"ip,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// TrustedDeviceStore keeps trusted devices (an optional ability of a
// store; both stores have it).
type TrustedDeviceStore interface {
	CreateTrustedDevice(ctx context.Context, d *TrustedDevice) error
	// UseTrustedDevice finds the user's device of hash, unexpired at now,
	// and notes its use; ENOTFOUND otherwise (another user's, expired,
	// revoked or unknown alike).
	UseTrustedDevice(ctx context.Context, userID string, hash []byte, now time.Time) (*TrustedDevice, error)
	// ListTrustedDevices lists the user's devices unexpired at now, newest first.
	ListTrustedDevices(ctx context.Context, userID string, now time.Time) ([]*TrustedDevice, error)
	// DeleteTrustedDevices deletes the user's device id, or all of the
	// user's devices when id is empty, and returns how many went.
	DeleteTrustedDevices(ctx context.Context, userID, id string) (int, error)
}

// DeviceGrant is a newly trusted device and its token in clear (shown once:
// the JSON's deviceToken and the device cookie).
type DeviceGrant struct {
	Token  string
	Device *TrustedDevice
}

// trustedDevices is the store's TrustedDeviceStore.
func (m *Manager) trustedDevices() (TrustedDeviceStore, error) {
	s, ok := m.store.(TrustedDeviceStore)
	if !ok {
		return nil, Errorf(EUNAVAILABLE, "trusted devices are not supported by this store")
	}
	return s, nil
}

// trustedDeviceHash is the keyed hash of a device token, bound to the user.
func (m *Manager) trustedDeviceHash(userID, token string) []byte {
	return m.cfg.Secrets.LookupHash("trusted-device:" + userID + ":" + token)
}

func (m *Manager) trustedDeviceTTL() time.Duration {
	if m.cfg.TrustedDeviceTTL > 0 {
		return m.cfg.TrustedDeviceTTL
	}
	return DefaultTrustedDeviceTTL
}

// RememberDevice trusts the device of client for u (after a passed
// challenge with rememberDevice) and returns its token, to be handed to
// the client once. device is the client's device as the login parsed it
// (the session's), named from; a zero one is parsed from the client. It is
// audited (trusted_device.added).
func (m *Manager) RememberDevice(ctx context.Context, u *User, client ClientInfo, device Device) (*DeviceGrant, error) {
	st, err := m.trustedDevices()
	if err != nil {
		return nil, err
	}
	token, _, err := m.cfg.Secrets.NewToken()
	if err != nil {
		return nil, err
	}
	client = cleanClient(client)
	now := m.clock.Now()
	name := "unknown device"
	if device == (Device{}) && m.cfg.UserAgents != nil {
		device = m.cfg.UserAgents.Parse(client.UserAgent)
	}
	if n := strings.Trim(device.Browser+" / "+device.OS, " /"); n != "" {
		name = n
	}
	d := &TrustedDevice{ID: newID(), UserID: u.ID, Hash: m.trustedDeviceHash(u.ID, token), Name: name, IP: ipText(client.IP),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(m.trustedDeviceTTL())}
	if err := st.CreateTrustedDevice(ctx, d); err != nil {
		return nil, err
	}
	m.audit(ctx, &Event{Type: EventTrustedDeviceAdded, ActorType: ActorUser, ActorID: u.ID, UserID: u.ID, IP: d.IP, UserAgent: client.UserAgent,
		Data: jsonObject("deviceId", d.ID, "name", d.Name, "expiresAt", d.ExpiresAt)}, nil)
	return &DeviceGrant{Token: token, Device: d}, nil
}

// deviceTrusted reports whether the client presented a live trusted-device
// token of this user. Anything else (no token, another user's, expired,
// revoked, malformed) is simply not trusted: the login goes on as from an
// unknown device.
func (m *Manager) deviceTrusted(ctx context.Context, userID string, client ClientInfo) bool {
	if client.DeviceToken == "" || !m.cfg.Secrets.ValidToken(client.DeviceToken) {
		return false
	}
	st, err := m.trustedDevices()
	if err != nil {
		return false
	}
	_, err = st.UseTrustedDevice(ctx, userID, m.trustedDeviceHash(userID, client.DeviceToken), m.clock.Now())
	if err != nil && !IsNotFound(err) {
		m.log.Warn("trusted device lookup failed; treated as unknown", "err", err)
	}
	return err == nil
}

// ListTrustedDevices lists the user's live trusted devices.
func (m *Manager) ListTrustedDevices(ctx context.Context, userID string) ([]*TrustedDevice, error) {
	st, err := m.trustedDevices()
	if err != nil {
		return nil, err
	}
	ds, err := st.ListTrustedDevices(ctx, userID, m.clock.Now())
	if ds == nil && err == nil {
		ds = []*TrustedDevice{}
	}
	return ds, err
}

// ForgetMyTrustedDevices is the user's own revocation: device id, or every
// device when id is empty. ENOTFOUND for an id the user does not have.
func (m *Manager) ForgetMyTrustedDevices(ctx context.Context, p Principal, id string, client ClientInfo) (int, error) {
	n, err := m.forgetTrustedDevices(ctx, p.UserID, id)
	if err != nil {
		return 0, err
	}
	client = cleanClient(client)
	m.audit(ctx, &Event{Type: EventTrustedDeviceRevoked, ActorType: ActorUser, ActorID: p.UserID, UserID: p.UserID, SessionID: p.SessionID,
		IP: ipText(client.IP), UserAgent: client.UserAgent, Data: jsonObject("count", n, "all", id == "", "deviceId", id)}, nil)
	return n, nil
}

// ForgetTrustedDevices is the admin's "forget trusted devices" of a user
// (every device; audited as admin.action forget_trusted_devices with the
// actor of ctx).
func (m *Manager) ForgetTrustedDevices(ctx context.Context, userID string) (int, error) {
	if _, err := m.store.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	n, err := m.forgetTrustedDevices(ctx, userID, "")
	if err != nil {
		return 0, err
	}
	m.auditAdmin(ctx, "forget_trusted_devices", userID, "", map[string]any{"count": n})
	return n, nil
}

func (m *Manager) forgetTrustedDevices(ctx context.Context, userID, id string) (int, error) {
	st, err := m.trustedDevices()
	if err != nil {
		return 0, err
	}
	n, err := st.DeleteTrustedDevices(ctx, userID, id)
	if err != nil {
		return 0, err
	}
	if id != "" && n == 0 {
		return 0, Errorf(ENOTFOUND, "no such trusted device")
	}
	return n, nil
}
