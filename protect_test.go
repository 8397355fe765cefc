package sessionmanager_test

import (
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/risk"
)

// protectedEnv is a Manager with the risk engine (the session judge) on
// each store kind.
func protectedEnv(t *testing.T, k storeKind, opts ...func(*sm.Config)) *env {
	return newEnv(t, k, append([]func(*sm.Config){func(c *sm.Config) { c.Risk = risk.New() }}, opts...)...)
}

// anomalyEvents counts the session's session.anomaly events.
func (e *env) anomalyEvents(sid string) []*sm.Event {
	e.t.Helper()
	evs, _, err := e.store.ListEvents(e.ctx, sm.EventFilter{Types: []string{sm.EventSessionAnomaly}, SessionID: sid, Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *env) session(sid string) *sm.Session {
	e.t.Helper()
	s, err := e.store.SessionByID(e.ctx, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestWatchAllocatesNothing: a request from the session's own client adds
// no allocation to the hot path (the timing is a benchmark's job:
// BenchmarkAuthenticateRequest).
func TestWatchAllocatesNothing(t *testing.T) {
	e := protectedEnv(t, storeKinds[0])
	res := e.register("alloc")
	if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, client); err != nil {
		t.Fatal(err)
	}
	// Both 0: a ClientInfo escaping to the heap through the judging path
	// once cost every request 128 B, with or without a client.
	bare := testing.AllocsPerRun(200, func() { _, _ = e.m.Authenticate(e.ctx, res.AccessToken) })
	watched := testing.AllocsPerRun(200, func() { _, _ = e.m.AuthenticateRequest(e.ctx, res.AccessToken, client) })
	if watched != 0 || bare != 0 {
		t.Fatalf("AuthenticateRequest allocates %v per request, Authenticate %v", watched, bare)
	}
}

// TestWatchJudgesAMoveOnce: a new address is one trail entry, written by
// the flush (never by the request), and judged once: the next requests
// from it compare equal.
func TestWatchJudgesAMoveOnce(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := protectedEnv(t, k)
			res := e.register("mover")
			moved := client
			moved.IP = mustAddr("198.51.100.20")
			for range 5 {
				e.clock.Advance(time.Second)
				if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, moved); err != nil {
					t.Fatal(err)
				}
			}
			if tr := e.session(res.Session.ID).Trail; len(tr) != 0 {
				t.Fatalf("the request wrote the trail itself: %v", tr)
			}
			if err := e.m.Flush(e.ctx); err != nil {
				t.Fatal(err)
			}
			s := e.session(res.Session.ID)
			if len(s.Trail) != 1 || s.Trail[0].IP != moved.IP || s.Trail[0].Device != "Chrome/Windows" || len(s.Trail[0].Signals) != 0 {
				t.Fatalf("trail: %+v", s.Trail)
			}
			if s.Suspected != "" || len(e.anomalyEvents(s.ID)) != 0 {
				t.Fatalf("an address change without geo data was flagged: %q", s.Suspected)
			}
		})
	}
}

// TestWatchDeviceChange: another device family on a request alerts
// (default): an event, the suspected mark; on a refresh it terminates
// (default): hijack_suspected, refused on the next request.
func TestWatchDeviceChange(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			e := protectedEnv(t, k)
			res := e.register("thief")
			ff := client
			ff.UserAgent = firefoxUA
			if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, ff); err != nil {
				t.Fatalf("device change on a request (alert) refused it: %v", err)
			}
			evs := e.anomalyEvents(res.Session.ID)
			if len(evs) != 1 || evs[0].UserAgent != firefoxUA {
				t.Fatalf("events: %+v", evs)
			}
			if err := e.m.Flush(e.ctx); err != nil {
				t.Fatal(err)
			}
			if s := e.session(res.Session.ID); s.Suspected != sm.ReasonSessionDeviceChange || s.Status == sm.StatusEnded {
				t.Fatalf("after the request: suspected %q, status %s", s.Suspected, s.Status)
			}
			// The thief's refresh from Firefox, while the owner was last on Chrome.
			e.clock.Advance(time.Minute)
			if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, client); err != nil {
				t.Fatal(err)
			}
			_, err := e.m.Refresh(e.ctx, res.RefreshToken, ff)
			if sm.ErrorReason(err) != string(sm.EndHijackSuspected) {
				t.Fatalf("refresh from another device: %v", err)
			}
			_, err = e.m.AuthenticateRequest(e.ctx, res.AccessToken, client)
			if sm.ErrorReason(err) != string(sm.EndHijackSuspected) {
				t.Fatalf("the owner's next request: %v", err)
			}
			s := e.session(res.Session.ID)
			if s.EndReason != sm.EndHijackSuspected || len(s.Trail) == 0 || s.Trail[len(s.Trail)-1].Action != sm.ActionTerminate {
				t.Fatalf("ended session: %s %+v", s.EndReason, s.Trail)
			}
		})
	}
}

// TestChallengeOnRefresh: with deviceChange set to challenge, the request
// goes through but every later refresh asks for a step-up (on any
// instance: the mark is in the store at once) until the user proves
// themselves again.
func TestChallengeOnRefresh(t *testing.T) {
	e := protectedEnv(t, storeKinds[0])
	if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"sessionActions":{"deviceChange":"challenge"}}`)); err != nil {
		t.Fatal(err)
	}
	res := e.register("chall")
	ff := client
	ff.UserAgent = firefoxUA
	e.clock.Advance(time.Second)
	if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, ff); err != nil {
		t.Fatalf("challenge refused the request itself: %v", err)
	}
	for range 2 {
		_, err := e.m.Refresh(e.ctx, res.RefreshToken, client)
		if sm.ErrorReason(err) != sm.ReasonStepUpRequired {
			t.Fatalf("refresh after a challenged move: %v", err)
		}
	}
	if s := e.session(res.Session.ID); s.Status == sm.StatusEnded {
		t.Fatal("a challenge ended the session")
	}
}

// TestWatchFloodIsBounded: a session alternating two devices is judged at
// most a few times a minute, however many requests it makes.
func TestWatchFloodIsBounded(t *testing.T) {
	e := protectedEnv(t, storeKinds[0])
	res := e.register("flood")
	ff := client
	ff.UserAgent = firefoxUA
	clients := []sm.ClientInfo{ff, client}
	for i := range 200 {
		if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, clients[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	first := len(e.anomalyEvents(res.Session.ID))
	if first == 0 || first > 10 {
		t.Fatalf("%d anomaly events for 200 alternating requests in one minute", first)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.m.AuthenticateRequest(e.ctx, res.AccessToken, ff); err != nil {
		t.Fatal(err)
	}
	if n := len(e.anomalyEvents(res.Session.ID)); n != first+1 {
		t.Fatalf("the next minute's move was not judged: %d events, %d before", n, first)
	}
}

// TestProtectionNeedsTheLicence: without the session_protection feature a
// device change on a refresh is not judged, and the settings refuse a
// session action as feature_locked rather than store one that would be
// ignored.
func TestProtectionNeedsTheLicence(t *testing.T) {
	e := protectedEnv(t, storeKinds[0], func(c *sm.Config) {
		c.Allows = func(f string) bool { return f != sm.FeatureProtect }
	})
	res := e.register("nolicence")
	ff := client
	ff.UserAgent = firefoxUA
	if _, err := e.m.Refresh(e.ctx, res.RefreshToken, ff); err != nil {
		t.Fatalf("refresh without session protection: %v", err)
	}
	_, err := e.m.UpdateSettings(e.ctx, []byte(`{"sessionActions":{"countryChange":"terminate"}}`))
	if sm.ErrorReason(err) != sm.ReasonFeatureLocked {
		t.Fatalf("locked session action: %v", err)
	}
	if _, err := e.m.UpdateSettings(e.ctx, []byte(`{"sessionActions":{"ipChange":"allow","countryChange":"allow","impossibleTravel":"allow","deviceChange":"allow","deviceChangeOnRefresh":"allow","refreshAnomaly":"allow"}}`)); err != nil {
		t.Fatalf("turning every session action off is always accepted: %v", err)
	}
}

// TestSessionActionsValidation: a bad session action is named by its path.
func TestSessionActionsValidation(t *testing.T) {
	s := sm.DefaultSettings()
	s.SessionActions.DeviceChange = "block"
	s.SessionActions.IPChange = " Terminate "
	s.SessionActions.RefreshAnomaly = ""
	s.RefreshAnomalyPerMinute = -1
	errs := sm.NormalizeSettings(s)
	if errs["sessionActions.deviceChange"] == "" || errs["refreshAnomalyPerMinute"] == "" || len(errs) != 2 {
		t.Fatalf("errors: %v", errs)
	}
	if s.SessionActions.IPChange != sm.ActionTerminate || s.SessionActions.RefreshAnomaly != sm.DefaultSessionActions.RefreshAnomaly {
		t.Fatalf("normalised: %+v", s.SessionActions)
	}
}
