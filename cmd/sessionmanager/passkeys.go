package main

import (
	"net"
	"net/url"
	"strings"

	"github.com/magic-sessionmanager/sessionmanager/passkey"
)

// passkeySetup is the relying party of passkeys, or why there is none.
type passkeySetup struct {
	// Config is nil when passkeys are off.
	Config *passkey.Config
	// Off says why passkeys are off ("" when on or turned off on purpose).
	Off string
}

// loadPasskeys reads SM_WEBAUTHN_RP_ID, SM_WEBAUTHN_ORIGINS (comma
// separated) and SM_WEBAUTHN_RP_NAME. Without them, the RP ID and origin
// come from SM_PUBLIC_URL (its host and its scheme://host[:port]). An
// explicit value that cannot work is a configuration error (exit 2); a
// public URL that cannot serve passkeys (an IP address, plain http off
// localhost) turns them off with the reason logged at start.
// SM_WEBAUTHN_RP_ID=off turns them off.
func loadPasskeys(getenv func(string) string, publicURL string) (passkeySetup, error) {
	rpID := strings.TrimSpace(getenv("SM_WEBAUTHN_RP_ID"))
	originsVar := strings.TrimSpace(getenv("SM_WEBAUTHN_ORIGINS"))
	name := strings.TrimSpace(getenv("SM_WEBAUTHN_RP_NAME"))
	if name == "" {
		name = "Magic Session Manager"
	}
	if strings.EqualFold(rpID, "off") {
		return passkeySetup{}, nil
	}
	var origins []string
	for o := range strings.SplitSeq(originsVar, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			origins = append(origins, o)
		}
	}
	explicit := rpID != "" || len(origins) > 0
	if len(origins) == 0 && publicURL != "" {
		if u, err := url.Parse(publicURL); err == nil && u.Scheme != "" && u.Host != "" {
			origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	if rpID == "" && len(origins) > 0 {
		if u, err := url.Parse(origins[0]); err == nil {
			rpID = u.Hostname()
		}
	}
	if !explicit && rpID == "" {
		return passkeySetup{Off: "passkeys are off: set SM_PUBLIC_URL (or SM_WEBAUTHN_RP_ID and SM_WEBAUTHN_ORIGINS)"}, nil
	}
	cfg := passkey.Config{RPID: rpID, DisplayName: name, Origins: origins}
	if err := cfg.Validate(); err != nil {
		if explicit {
			return passkeySetup{}, &configError{"SM_WEBAUTHN_RP_ID / SM_WEBAUTHN_ORIGINS: " + err.Error()}
		}
		if net.ParseIP(rpID) != nil {
			return passkeySetup{Off: "passkeys are off: SM_PUBLIC_URL " + publicURL + " is an IP address, which cannot be a WebAuthn relying party id; set SM_WEBAUTHN_RP_ID and SM_WEBAUTHN_ORIGINS"}, nil
		}
		return passkeySetup{Off: "passkeys are off (from SM_PUBLIC_URL): " + err.Error()}, nil
	}
	return passkeySetup{Config: &cfg}, nil
}
