package sessionmanager

import "context"

// An admin's second factor for the dashboard is a TOTP code, checked by the
// core (CheckAdminSignIn), never by a front end: the core opens the sealed
// secret and refuses a code already used, in the counter every instance
// shares (Config.Failures), so a code seen once cannot sign in again on
// another instance. The TOTP itself (totp.go) is the one end users enrol.

// TOTPAdditionalData is the additional data an admin's TOTP secret is
// sealed with (Admin.TOTPSealed = Secrets.Seal(secret, TOTPAdditionalData(id))).
func TOTPAdditionalData(adminID string) []byte { return []byte("sm-admin-totp/v1:" + adminID) }

// SealTOTP seals a base32 TOTP secret (as in an otpauth:// URI) for
// Admin.TOTPSealed.
func SealTOTP(secrets Secrets, adminID, base32Secret string) ([]byte, error) {
	return sealTOTP(secrets, base32Secret, TOTPAdditionalData(adminID))
}

// CheckAdminSignIn returns the admin whose email and password these are
// and, when the admin has a TOTP secret, whose code is right and not used
// before. A code is used once: its time step (and every earlier step still
// in the window) is reserved for the admin in Config.Failures, so a replay
// is refused on every instance that shares the counter. Every refusal is
// the same EUNAUTHORIZED, in the same time for an unknown email.
func (m *Manager) CheckAdminSignIn(ctx context.Context, email, password, code string) (*Admin, error) {
	a, err := m.checkAdminPassword(ctx, email, password)
	if err != nil || len(a.TOTPSealed) == 0 {
		return a, err
	}
	if err := m.useAdminTOTP(ctx, a, code); err != nil {
		return nil, err
	}
	return a, nil
}

// useAdminTOTP checks code against the admin's sealed secret at the core's
// now and reserves its step; EUNAUTHORIZED for a wrong or used code.
func (m *Manager) useAdminTOTP(ctx context.Context, a *Admin, code string) error {
	ok, err := m.useTOTP(ctx, a.ID, a.TOTPSealed, TOTPAdditionalData(a.ID), code)
	if err != nil {
		return err
	}
	if !ok {
		return errAdminSignIn()
	}
	return nil
}

// errAdminSignIn is the one answer for an unknown email, a wrong password
// and a wrong or used code alike.
func errAdminSignIn() error {
	return Errorf(EUNAUTHORIZED, "invalid email, password or authentication code")
}

// checkAdminPassword checks a dashboard sign-in's email and password. An
// unknown email spends the time of a password check too.
func (m *Manager) checkAdminPassword(ctx context.Context, email, password string) (*Admin, error) {
	wrong := errAdminSignIn()
	st, err := m.adminLookup()
	if err != nil {
		return nil, err
	}
	a, err := st.AdminByEmail(ctx, email)
	if err != nil {
		_, _ = m.cfg.Passwords.Verify(m.dummy(), password)
		if IsNotFound(err) {
			return nil, wrong
		}
		return nil, err
	}
	if ok, err := m.cfg.Passwords.Verify(a.PasswordHash, password); err != nil || !ok || a.Disabled() {
		return nil, wrong
	}
	return a, nil
}
