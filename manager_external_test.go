package sessionmanager_test

import (
	"sync"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestExternalSessionCreatesUserOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		id := sm.ExternalIdentity{ExternalID: "kc:42", Email: "Frank@Example.com", Username: "frank"}
		const n = 6
		var wg sync.WaitGroup
		users := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.m.StartExternalSession(e.ctx, id, client)
				errs[i] = err
				if err == nil {
					users[i] = res.User.ID
					if res.Session.AuthMethod != sm.AuthExternal {
						t.Errorf("auth method %q", res.Session.AuthMethod)
					}
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || users[i] != users[0] {
				t.Fatalf("first sightings: %v, users %v", errs, users)
			}
		}
		u, err := e.store.UserByExternalID(e.ctx, "kc:42")
		if err != nil || u.Email != "frank@example.com" || u.PasswordHash != "" {
			t.Fatalf("user: %+v %v", u, err)
		}
		// An email of another account: 409, no session.
		e.register("grace")
		if _, err := e.m.StartExternalSession(e.ctx, sm.ExternalIdentity{ExternalID: "kc:43", Email: "grace@example.com"}, client); sm.ErrorCode(err) != sm.ECONFLICT {
			t.Fatalf("email clash: %v", err)
		}
		if _, err := e.m.StartExternalSession(e.ctx, sm.ExternalIdentity{}, client); sm.ErrorCode(err) != sm.EINVALID {
			t.Fatalf("no external id: %v", err)
		}
		// A blocked user is refused.
		if _, err := e.m.SetBlocked(sm.WithActor(e.ctx, sm.Actor{Type: sm.ActorAdmin}), u.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.StartExternalSession(e.ctx, id, client); sm.ErrorCode(err) != sm.EFORBIDDEN {
			t.Fatalf("blocked: %v", err)
		}
	})
}
