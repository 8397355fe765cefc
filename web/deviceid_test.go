package web

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestSessionPageShowsDeviceID: the client's device id (Strapi's deviceId)
// is on the session's page, escaped; a session without one shows no row.
func TestSessionPageShowsDeviceID(t *testing.T) {
	e := newEnv(t)
	withID, err := e.manager.StartSession(context.Background(), e.user("dana@example.com"), sm.AuthPassword,
		sm.ClientInfo{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: uaChromeMac, DeviceID: "phone-<b>7</b>"})
	if err != nil {
		t.Fatal(err)
	}
	without := e.login("erin@example.com", "198.51.100.8", uaChromeMac)
	c := e.client()
	c.signIn()
	resp, body := c.get("/admin/sessions/" + withID.Session.ID)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Device id") || !strings.Contains(body, "phone-&lt;b&gt;7&lt;/b&gt;") {
		t.Fatalf("status %d; page lacks the escaped device id: %.2000s", resp.StatusCode, body)
	}
	resp, body = c.get("/admin/sessions/" + without.Session.ID)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, "Device id") {
		t.Fatalf("status %d; a session without a device id shows the row", resp.StatusCode)
	}
}
