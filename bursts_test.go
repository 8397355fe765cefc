package sessionmanager_test

import (
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestFailedLoginBursts: failures group by address; accounts count user
// ids and typed identifiers; other event types, erased addresses and
// addresses under the threshold are left out; most failures first.
func TestFailedLoginBursts(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	var evs []*sm.Event
	add := func(typ, ip, user, personal string, min int) {
		evs = append(evs, &sm.Event{Type: typ, IP: ip, UserID: user, Personal: []byte(personal), At: t0.Add(time.Duration(min) * time.Minute)})
	}
	for i := range 6 {
		add(sm.EventLoginFailed, "198.51.100.7", "", `{"identifier":"user`+string(rune('a'+i%3))+`"}`, i)
	}
	for i := range 7 {
		add(sm.EventLoginFailed, "203.0.113.9", "u1", "", 10-i)
	}
	add(sm.EventLoginSucceeded, "203.0.113.9", "u1", "", 11)
	for range 4 {
		add(sm.EventLoginFailed, "192.0.2.1", "u2", "", 0)
	}
	for range 9 {
		add(sm.EventLoginFailed, "", "u3", "", 0)
	}
	got := sm.FailedLoginBursts(evs, sm.BurstThreshold)
	if len(got) != 2 {
		t.Fatalf("%d bursts: %+v", len(got), got)
	}
	if b := got[0]; b.IP != "203.0.113.9" || b.Failures != 7 || b.Accounts != 1 || !b.First.Equal(t0.Add(4*time.Minute)) || !b.Last.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("first burst %+v", b)
	}
	if b := got[1]; b.IP != "198.51.100.7" || b.Failures != 6 || b.Accounts != 3 {
		t.Errorf("second burst %+v", b)
	}
}
