package sessionmanager

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestLoginAuth(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		method AuthMethod
		proof  []string
		amr    []string
		acr    string
	}{
		{AuthPassword, nil, []string{"pwd"}, "1"},
		{AuthMagicLink, nil, []string{"email"}, "1"},
		{AuthExternal, nil, nil, "1"},
		{AuthPassword, []string{"otp"}, []string{"pwd", "otp", "mfa"}, "2"},
		{AuthPassword, []string{"hwk"}, []string{"pwd", "hwk", "mfa"}, "2"},
		{AuthExternal, []string{"otp"}, []string{"otp", "mfa"}, "2"},
		{AuthMagicLink, []string{"hwk"}, []string{"email", "hwk", "mfa"}, "2"},
		// An emailed code after a sign-in link proves the same mailbox.
		{AuthMagicLink, []string{"otp"}, []string{"email", "otp"}, "1"},
	}
	for _, tc := range tests {
		got := loginAuth(tc.method, tc.proof, now)
		if !got.AuthTime.Equal(now) || !slices.Equal(got.AMR, tc.amr) || got.ACR != tc.acr {
			t.Errorf("loginAuth(%s, %v) = %+v, want amr %v acr %s", tc.method, tc.proof, got, tc.amr, tc.acr)
		}
	}
}

func TestRecentAuth(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	a := AuthContext{AuthTime: now.Add(-5 * time.Minute), AMR: []string{"pwd"}, ACR: "1"}
	tests := []struct {
		a      AuthContext
		maxAge time.Duration
		minACR string
		want   bool
	}{
		{a, 10 * time.Minute, "", true},
		{a, 5 * time.Minute, "", true},
		{a, 4 * time.Minute, "", false},
		{a, 0, "", true},
		{a, 10 * time.Minute, "2", false},
		{AuthContext{AuthTime: now, ACR: "2"}, time.Minute, "2", true},
		{AuthContext{}, 0, "", false}, // never proven (a session from before auth contexts)
	}
	for i, tc := range tests {
		if got := RecentAuth(tc.a, now, tc.maxAge, tc.minACR); got != tc.want {
			t.Errorf("#%d RecentAuth = %v, want %v", i, got, tc.want)
		}
	}
}

// TestStepUpAnswer: the step-up refusal is a 401 with RFC 9470's
// WWW-Authenticate, the challenge answer carries details.challenge and no
// invalid_token, a plain 401 stays invalid_token.
func TestStepUpAnswer(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, StepUpRequired(5*time.Minute, ACRMultiFactor))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer error="insufficient_user_authentication", error_description="A recent verification of the user is required", acr_values="2", max_age=300` {
		t.Fatalf("step-up: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	w = httptest.NewRecorder()
	WriteError(w, &Error{Code: EUNAUTHORIZED, Message: "Additional verification required", Reason: ReasonChallengeRequired,
		Challenge: &ChallengeRequired{ID: "abc", Methods: []string{MethodEmail}, ExpiresAt: time.Unix(0, 0).UTC()}})
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="challenge"` ||
		w.Body.String() != `{"data":null,"error":{"status":401,"name":"UnauthorizedError","message":"Additional verification required","details":{"challenge":{"id":"abc","methods":["email"],"expiresAt":"1970-01-01T00:00:00Z"},"reason":"challenge_required"}}}`+"\n" {
		t.Fatalf("challenge: %d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	w = httptest.NewRecorder()
	WriteError(w, Errorf(EUNAUTHORIZED, "invalid token"))
	if w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
		t.Fatalf("plain 401: %q", w.Header().Get("WWW-Authenticate"))
	}
}

// TestChallengeNeedsItsFeature: without the licence feature every
// challenge acts as an alert; without blocking, the fallback too.
func TestChallengeNeedsItsFeature(t *testing.T) {
	s := DefaultSettings()
	s.Actions.VPN, s.Actions.NewDevice = ActionChallenge, ActionChallenge
	m := &Manager{cfg: Config{Allows: func(f string) bool { return f != FeatureChallenge }}}
	got := m.effectiveSettings(s)
	if got.Actions.VPN != ActionAlert || got.Actions.NewDevice != ActionAlert || got.ChallengeFallback != ChallengeFallbackBlock {
		t.Fatalf("without challenge: %+v", got)
	}
	m = &Manager{cfg: Config{Allows: func(f string) bool { return f != FeatureBlocking }}}
	got = m.effectiveSettings(s)
	if got.Actions.VPN != ActionChallenge || got.ChallengeFallback != ChallengeFallbackAlert {
		t.Fatalf("without blocking: %+v", got)
	}
	if s.Actions.VPN != ActionChallenge {
		t.Fatal("effectiveSettings changed the stored settings")
	}
}
