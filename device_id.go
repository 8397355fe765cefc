package sessionmanager

import (
	"context"
	"unicode"
	"unicode/utf8"
)

// MaxDeviceIDLength caps a client's device id, in bytes.
const MaxDeviceIDLength = 128

// CheckDeviceID checks a client's device id (Strapi 5's deviceId: the
// client's own name for its device, typically a UUID): empty (none given),
// or 1 to MaxDeviceIDLength bytes of UTF-8 without control characters. A
// bad one is EINVALID naming the deviceId field.
func CheckDeviceID(id string) error {
	problem := ""
	switch {
	case id == "":
		return nil
	case len(id) > MaxDeviceIDLength:
		problem = "must be at most 128 bytes"
	case !utf8.ValidString(id):
		problem = "must be valid UTF-8"
	default:
		for _, r := range id {
			if unicode.IsControl(r) {
				problem = "must not contain control characters"
				break
			}
		}
	}
	if problem == "" {
		return nil
	}
	return InvalidFields(map[string]string{"deviceId": problem})
}

// EndDeviceSessions ends the user's live sessions signed in with deviceID
// (Strapi 5's logout of one device) and returns how many ended; their
// access and refresh tokens stop working at once, on every instance.
func (m *Manager) EndDeviceSessions(ctx context.Context, userID, deviceID string, reason EndReason, actor Actor) (int, error) {
	if err := CheckDeviceID(deviceID); err != nil {
		return 0, err
	}
	if deviceID == "" {
		return 0, InvalidFields(map[string]string{"deviceId": "is required"})
	}
	now := m.clock.Now()
	ids, err := m.store.EndDeviceSessions(ctx, userID, deviceID, reason, now)
	if err != nil {
		return 0, err
	}
	m.afterEndAll(ctx, ids, userID, reason, actor, now)
	return len(ids), nil
}
