package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// totpData is the two-factor section of the account page.
type totpData struct {
	On bool
	// Secret, URI and QR enrol a new secret (TOTP off).
	Secret string
	QR     template.URL // a PNG data URI: CSP allows data: images, no script
	// RecoveryCodes are shown once, right after enrolment.
	RecoveryCodes []string
}

// qrDataURI renders text as a QR code PNG data URI.
func qrDataURI(text string) (template.URL, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	if code, err = barcode.Scale(code, 232, 232); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, code); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// totpSection fills the two-factor section: on, or a fresh secret to enrol.
func (s *server) totpSection(r *http.Request, secret string) (totpData, error) {
	a := adminFrom(r.Context())
	if a.TOTP() {
		return totpData{On: true}, nil
	}
	if s.d.Core.TwoFactor == nil {
		return totpData{}, nil
	}
	uri := sm.AdminTOTPURI(a.Email, secret)
	if secret == "" {
		en, err := s.d.Core.TwoFactor.NewAdminTOTP(r.Context(), a.ID)
		if err != nil {
			return totpData{}, err
		}
		secret, uri = en.Secret, en.URI
	}
	img, err := qrDataURI(uri)
	if err != nil {
		return totpData{}, err
	}
	return totpData{Secret: secret, QR: img}, nil
}

// handleTOTPEnable turns TOTP on once the code proves the app has the
// secret; the recovery codes are shown on this answer only.
func (s *server) handleTOTPEnable(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	secret, code := r.PostFormValue("secret"), r.PostFormValue("code")
	a, cur := adminFrom(r.Context()), sessionFrom(r.Context())
	if s.d.Core.TwoFactor == nil || len(secret) > 128 || len(code) > 16 {
		s.renderError(w, r, http.StatusBadRequest, "Two-factor sign-in", "The form was not valid. Reload the page and try again.")
		return
	}
	codes, err := s.d.Core.TwoFactor.EnableAdminTOTP(r.Context(), a.ID, secret, code, cur.ID)
	if err != nil {
		s.accountFailed(w, r, err, "Two-factor sign-in was not turned on.", secret)
		return
	}
	d, err := s.accountData(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	d.TOTP = totpData{On: true, RecoveryCodes: codes}
	d.Done2FA = "Two-factor sign-in is on. Your other sign-ins were ended."
	s.render(w, r, http.StatusOK, "account", "Account", "account", d)
}

func (s *server) handleTOTPDisable(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	password := r.PostFormValue("current")
	a, cur := adminFrom(r.Context()), sessionFrom(r.Context())
	if s.d.Core.TwoFactor == nil || len(password) > 1024 {
		s.renderError(w, r, http.StatusBadRequest, "Two-factor sign-in", "The form was not valid. Reload the page and try again.")
		return
	}
	if err := s.d.Core.TwoFactor.DisableAdminTOTP(r.Context(), a.ID, password, cur.ID); err != nil {
		s.accountFailed(w, r, err, "Two-factor sign-in was not turned off.", "")
		return
	}
	s.redirectBack(w, r, "/admin/account", "totp-disabled")
}

// accountFailed shows a refused two-factor change on the account page.
func (s *server) accountFailed(w http.ResponseWriter, r *http.Request, err error, msg, secret string) {
	var se *sm.Error
	status := http.StatusBadRequest
	switch {
	case errors.As(err, &se) && se.Code == sm.EINVALID:
	case sm.ErrorCode(err) == sm.ETOOMANY:
		status, msg = http.StatusTooManyRequests, "Too many wrong passwords. Wait a few minutes and try again."
	default:
		s.serverError(w, r, err)
		return
	}
	d, err := s.accountData(r)
	if err == nil && secret != "" {
		d.TOTP, err = s.totpSection(r, secret)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if se != nil {
		d.Errors2FA = se.Fields
	}
	d.Message2FA = msg
	s.render(w, r, status, "account", "Account", "account", d)
}
