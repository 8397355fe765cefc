// Package passkey runs the WebAuthn ceremonies of passkeys with
// github.com/go-webauthn/webauthn: it turns the root package's users and
// credential records into the library's, builds the options a browser
// needs and verifies its answers. It keeps nothing: the Manager stores the
// ceremony state and the credentials (sessionmanager.PasskeyStore).
package passkey

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Config is the relying party.
type Config struct {
	// RPID is the relying party id: the site's registrable domain (or a
	// host name), never an IP address, e.g. "example.com".
	RPID string
	// DisplayName is what authenticators show ("Magic Session Manager").
	DisplayName string
	// Origins are the exact origins the browser may report, e.g.
	// "https://app.example.com"; each one's host is RPID or under it.
	Origins []string
}

// Validate reports a relying party that cannot work, naming the problem:
// a missing or IP RP ID, a missing origin, or an origin whose host is not
// the RP ID or a subdomain of it (browsers refuse those).
func (c Config) Validate() error {
	rpID := strings.ToLower(strings.TrimSpace(c.RPID))
	if rpID == "" {
		return errors.New("passkeys: no relying party id (SM_WEBAUTHN_RP_ID)")
	}
	if strings.ContainsAny(rpID, ":/ ") || net.ParseIP(rpID) != nil {
		return fmt.Errorf("passkeys: relying party id %q must be a domain name, not an address or URL", c.RPID)
	}
	if len(c.Origins) == 0 {
		return errors.New("passkeys: no origin (SM_WEBAUTHN_ORIGINS)")
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return fmt.Errorf("passkeys: origin %q is not scheme://host[:port]", o)
		}
		host := strings.ToLower(u.Hostname())
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			return fmt.Errorf("passkeys: origin %q is not on the relying party id %q", o, c.RPID)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost"))) {
			return fmt.Errorf("passkeys: origin %q must be https (browsers allow http only on localhost)", o)
		}
	}
	return nil
}

// Ceremonies implements sessionmanager.PasskeyCeremonies.
type Ceremonies struct {
	wa *webauthn.WebAuthn
}

var _ sm.PasskeyCeremonies = (*Ceremonies)(nil)

// New checks the relying party and returns its ceremonies.
func New(c Config) (*Ceremonies, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	name := c.DisplayName
	if name == "" {
		name = c.RPID
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: strings.ToLower(strings.TrimSpace(c.RPID)), RPDisplayName: name, RPOrigins: c.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return &Ceremonies{wa: wa}, nil
}

// user adapts a root user and its passkeys to the library. Its WebAuthn
// id (the user handle) is the user's id: random, no personal data.
type user struct {
	u     *sm.User
	creds []webauthn.Credential
}

func (w user) WebAuthnID() []byte { return []byte(w.u.ID) }

// WebAuthnName is what the authenticator lists the passkey under: the
// email, else the username, else the id (an account from another system
// may have neither).
func (w user) WebAuthnName() string {
	for _, s := range []string{w.u.Email, w.u.Username} {
		if s != "" {
			return s
		}
	}
	return w.u.ID
}

func (w user) WebAuthnDisplayName() string {
	for _, s := range []string{w.u.Username, w.u.Email} {
		if s != "" {
			return s
		}
	}
	return w.u.ID
}
func (w user) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func newUser(u *sm.User, passkeys []*sm.Passkey) user {
	w := user{u: u}
	for _, p := range passkeys {
		w.creds = append(w.creds, credential(p))
	}
	return w
}

// credential is the library's form of a stored passkey.
func credential(p *sm.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType, AttestationFormat: p.AttestationFormat,
		Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount, Attachment: protocol.AuthenticatorAttachment(p.Attachment)},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// BeginRegistration builds creation options for a discoverable,
// user-verified passkey, excluding the ones u has.
func (c *Ceremonies) BeginRegistration(u *sm.User, existing []*sm.Passkey) (json.RawMessage, string, []byte, error) {
	w := newUser(u, existing)
	creation, session, err := c.wa.BeginRegistration(w, webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()))
	if err != nil {
		return nil, "", nil, fmt.Errorf("passkeys: begin registration: %w", err)
	}
	return encodeCeremony(creation.Response, session)
}

// BeginLogin builds request options: discoverable (any passkey of this
// site) when u is nil, else limited to u's passkeys.
func (c *Ceremonies) BeginLogin(u *sm.User, passkeys []*sm.Passkey) (json.RawMessage, string, []byte, error) {
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		err       error
	)
	if u == nil {
		assertion, session, err = c.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		assertion, session, err = c.wa.BeginLogin(newUser(u, passkeys), webauthn.WithUserVerification(protocol.VerificationRequired))
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("passkeys: begin login: %w", err)
	}
	return encodeCeremony(assertion.Response, session)
}

func encodeCeremony(options any, session *webauthn.SessionData) (json.RawMessage, string, []byte, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, "", nil, err
	}
	state, err := json.Marshal(session)
	if err != nil {
		return nil, "", nil, err
	}
	return opts, session.Challenge, state, nil
}

func decodeState(state []byte) (webauthn.SessionData, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return s, fmt.Errorf("passkeys: ceremony state: %w", err)
	}
	return s, nil
}

// ParseRegistration reads an attestation response (PublicKeyCredential JSON).
func (c *Ceremonies) ParseRegistration(response []byte) (*sm.PasskeyResponse, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, clientError(err, "passkey_malformed", "The passkey's answer is not a valid registration response")
	}
	return &sm.PasskeyResponse{Challenge: parsed.Response.CollectedClientData.Challenge, CredentialID: parsed.RawID, Parsed: parsed}, nil
}

// ParseAssertion reads an assertion response (PublicKeyCredential JSON).
func (c *Ceremonies) ParseAssertion(response []byte) (*sm.PasskeyResponse, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, clientError(err, "passkey_malformed", "The passkey's answer is not a valid sign-in response")
	}
	return &sm.PasskeyResponse{Challenge: parsed.Response.CollectedClientData.Challenge, CredentialID: parsed.RawID,
		UserHandle: parsed.Response.UserHandle, BackupEligible: parsed.Response.AuthenticatorData.Flags.HasBackupEligible(), Parsed: parsed}, nil
}

// FinishRegistration verifies the attestation (challenge, origin, RP ID,
// user presence and verification) and returns the new credential.
func (c *Ceremonies) FinishRegistration(u *sm.User, state []byte, response *sm.PasskeyResponse) (*sm.Passkey, error) {
	session, err := decodeState(state)
	if err != nil {
		return nil, err
	}
	parsed, ok := response.Parsed.(*protocol.ParsedCredentialCreationData)
	if !ok {
		return nil, errors.New("passkeys: not a parsed registration response")
	}
	cred, err := c.wa.CreateCredential(newUser(u, nil), session, parsed)
	if err != nil {
		return nil, verifyError(err)
	}
	p := &sm.Passkey{
		CredentialID: cred.ID, UserID: u.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, AttestationType: cred.AttestationType, AttestationFormat: cred.AttestationFormat,
		Attachment: string(cred.Authenticator.Attachment), Transports: []string{},
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	return p, nil
}

// FinishLogin verifies an assertion of u with one of passkeys (signature,
// challenge, origin, RP ID, user verification, backup flags) and returns
// that passkey with the counter and flags the authenticator reported.
func (c *Ceremonies) FinishLogin(u *sm.User, passkeys []*sm.Passkey, state []byte, response *sm.PasskeyResponse) (*sm.Passkey, error) {
	session, err := decodeState(state)
	if err != nil {
		return nil, err
	}
	parsed, ok := response.Parsed.(*protocol.ParsedCredentialAssertionData)
	if !ok {
		return nil, errors.New("passkeys: not a parsed assertion")
	}
	w := newUser(u, passkeys)
	var cred *webauthn.Credential
	if len(session.UserID) == 0 {
		cred, err = c.wa.ValidateDiscoverableLogin(func([]byte, []byte) (webauthn.User, error) { return w, nil }, session, parsed)
	} else {
		cred, err = c.wa.ValidateLogin(w, session, parsed)
	}
	if err != nil {
		return nil, verifyError(err)
	}
	if cred.Authenticator.CloneWarning {
		return nil, &sm.Error{Code: sm.EINVALID, Reason: "passkey_counter", Message: "The passkey's signature counter went backwards (a cloned key?)"}
	}
	for _, p := range passkeys {
		if string(p.CredentialID) == string(cred.ID) {
			out := *p
			out.SignCount, out.BackupState = cred.Authenticator.SignCount, cred.Flags.BackupState
			return &out, nil
		}
	}
	return nil, &sm.Error{Code: sm.EINVALID, Reason: "passkey_unknown", Message: "This passkey is not registered"}
}

// verifyError turns the library's verification failure into a client
// error with a reason; the library's own detail stays in the cause (logs).
func verifyError(err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return clientError(err, "passkey_unknown", "This passkey is not registered to this account")
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return err
	}
	detail := strings.ToLower(pe.Details + " " + pe.DevInfo)
	switch {
	case strings.Contains(detail, "origin"):
		return clientError(err, "passkey_origin", "The passkey was used from an origin this server does not accept")
	case strings.Contains(detail, "rp hash") || strings.Contains(detail, "rpid"):
		return clientError(err, "passkey_rp_id", "The passkey belongs to another relying party")
	case pe.Type == protocol.ErrChallengeMismatch.Type || strings.Contains(detail, "challenge"):
		return clientError(err, "passkey_challenge", "The passkey's answer is for another ceremony")
	case strings.Contains(detail, "user verification") || strings.Contains(detail, "user verified"):
		return clientError(err, "passkey_user_verification", "The authenticator did not verify the user")
	}
	return clientError(err, "passkey_invalid", "The passkey's answer could not be verified")
}

func clientError(cause error, reason, msg string) error {
	return &sm.Error{Code: sm.EINVALID, Reason: reason, Message: msg, Cause: cause}
}
