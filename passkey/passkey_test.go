package passkey

import (
	"encoding/json"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestValidate(t *testing.T) {
	good := []Config{
		{RPID: "example.com", Origins: []string{"https://example.com", "https://app.example.com:8443"}},
		{RPID: "Example.COM", Origins: []string{"https://app.example.com"}},
		{RPID: "localhost", Origins: []string{"http://localhost:8080"}},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := []Config{
		{Origins: []string{"https://example.com"}},
		{RPID: "127.0.0.1", Origins: []string{"https://127.0.0.1"}},
		{RPID: "::1", Origins: []string{"https://[::1]"}},
		{RPID: "https://example.com", Origins: []string{"https://example.com"}},
		{RPID: "example.com"},
		{RPID: "example.com", Origins: []string{"https://notexample.com"}},
		{RPID: "example.com", Origins: []string{"https://example.com.evil.test"}},
		{RPID: "example.com", Origins: []string{"http://example.com"}},
		{RPID: "example.com", Origins: []string{"https://example.com/login"}},
		{RPID: "example.com", Origins: []string{"example.com"}},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
}

// TestOptionsAskForADiscoverableVerifiedKey: what the browser is asked for
// (the server's policy, not the library's defaults).
func TestOptionsAskForADiscoverableVerifiedKey(t *testing.T) {
	c, err := New(Config{RPID: "example.com", DisplayName: "Example", Origins: []string{"https://example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	u := &sm.User{ID: "user-1", Email: "alice@example.com", Username: "alice"}
	have := &sm.Passkey{CredentialID: []byte("cred-1"), PublicKey: []byte("k"), Transports: []string{"usb"}}
	raw, challenge, state, err := c.BeginRegistration(u, []*sm.Passkey{have})
	if err != nil || challenge == "" || len(state) == 0 {
		t.Fatalf("begin: %v %q %d", err, challenge, len(state))
	}
	var opts struct {
		Challenge string `json:"challenge"`
		RP        struct{ ID, Name string }
		User      struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Exclude []struct{ ID string } `json:"excludeCredentials"`
	}
	if err := json.Unmarshal(raw, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.Challenge != challenge || opts.RP.ID != "example.com" || opts.User.Name != "alice@example.com" ||
		opts.AuthenticatorSelection.ResidentKey != "required" || opts.AuthenticatorSelection.UserVerification != "required" ||
		len(opts.Exclude) != 1 {
		t.Fatalf("creation options: %s", raw)
	}
	raw, challenge, _, err = c.BeginLogin(nil, nil)
	var req struct {
		Challenge        string `json:"challenge"`
		UserVerification string `json:"userVerification"`
		Allow            []any  `json:"allowCredentials"`
	}
	if err != nil || json.Unmarshal(raw, &req) != nil || req.Challenge != challenge || req.UserVerification != "required" || len(req.Allow) != 0 {
		t.Fatalf("discoverable request options: %v %s", err, raw)
	}
	raw, _, _, _ = c.BeginLogin(u, []*sm.Passkey{have})
	if json.Unmarshal(raw, &req) != nil || len(req.Allow) != 1 {
		t.Fatalf("a user's request options: %s", raw)
	}
}

func TestMalformedAnswers(t *testing.T) {
	c, _ := New(Config{RPID: "example.com", Origins: []string{"https://example.com"}})
	for _, body := range []string{`{}`, `{"id":"x","type":"public-key"}`, `not json`, `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`} {
		if _, err := c.ParseAssertion([]byte(body)); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("assertion %s: %v", body, err)
		}
		if _, err := c.ParseRegistration([]byte(body)); sm.ErrorCode(err) != sm.EINVALID {
			t.Errorf("registration %s: %v", body, err)
		}
	}
}

// TestAccountWithoutNames: an account from another system may have no
// email or username; its options still name it (by id).
func TestAccountWithoutNames(t *testing.T) {
	c, _ := New(Config{RPID: "example.com", Origins: []string{"https://example.com"}})
	raw, _, _, err := c.BeginRegistration(&sm.User{ID: "ext-1"}, nil)
	var opts struct {
		User struct {
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
	}
	if err != nil || json.Unmarshal(raw, &opts) != nil || opts.User.Name != "ext-1" || opts.User.DisplayName != "ext-1" {
		t.Fatalf("%v %s", err, raw)
	}
}
