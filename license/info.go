package license

import (
	"fmt"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Status is the state of the licence in force.
type Status = string

// The statuses.
const (
	StatusNone    Status = "none"    // no key: Free
	StatusActive  Status = "active"  // a genuine, unexpired key
	StatusExpired Status = "expired" // a genuine key past its expiry: Free features only
	StatusInvalid Status = "invalid" // a key that is malformed or not genuine: Free
)

// DemoNotice is the notice of a demo (Options.Demo).
const DemoNotice = "Demo: every feature unlocked on demo data"

// Info describes the licence in force, for the dashboard, the admin API
// and the logs: the root package's type, the one the core and the admin
// API show (its Edition and Licensed are Edition values as text).
type Info = sm.LicenseInfo

// Info describes the licence in force at this instant.
func (s *State) Info() Info {
	return describe(s.cur.Load(), s.now())
}

// describe is Info for a snapshot at now.
func describe(cur *snapshot, now time.Time) Info {
	in := Info{Edition: string(EditionFree), Status: cur.status, Demo: cur.demo, Source: cur.source}
	if l := cur.lic; l != nil {
		in.Licensed, in.Licensee, in.ID, in.Seats, in.Instances = string(l.Edition), l.Licensee, l.ID, l.Seats, l.Instances
		in.IssuedAt, in.ExpiresAt = l.IssuedAt, l.ExpiresAt
		if now.Before(l.ExpiresAt) {
			in.Edition = string(l.Edition)
			in.DaysLeft = int((l.ExpiresAt.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
		} else {
			in.Status = StatusExpired
		}
	}
	in.Features = featureNames(cur.mask)
	if in.Status != StatusActive {
		in.Features = featureNames(0)
	}
	in.Notice, in.Warning = notice(cur, in, now)
	if cur.demo {
		in.Edition, in.Features, in.Notice, in.Warning = string(EditionAdvanced), featureNames(advancedMask), DemoNotice, false
	}
	return in
}

// freeNote is what running as Free means, said once.
const freeNote = "running as Free: sessions, force logout, the dashboard and token encryption work; geolocation shows the IP address only, and Premium and Advanced features are locked."

// notice is the one sentence for the banner and the logs.
func notice(cur *snapshot, in Info, now time.Time) (string, bool) {
	day := in.ExpiresAt.Format(time.DateOnly)
	switch in.Status {
	case StatusNone:
		return "No licence key: " + freeNote, false
	case StatusInvalid:
		return "The licence key is not valid (" + cur.reason + "): " + freeNote, true
	case StatusExpired:
		return fmt.Sprintf("The %s licence of %s expired on %s: Premium and Advanced features are locked, Free features keep working and no data was deleted. Set a new key to restore everything at once.",
			Edition(in.Licensed).Title(), in.Licensee, day), true
	}
	if in.ExpiresAt.Sub(now) <= WarnBefore {
		return fmt.Sprintf("The %s licence of %s expires on %s (in %s): renew it to keep Premium and Advanced features.",
			Edition(in.Licensed).Title(), in.Licensee, day, plural(in.DaysLeft, "day")), true
	}
	return fmt.Sprintf("%s licence of %s, valid until %s (%s left).", Edition(in.Licensed).Title(), in.Licensee, day, plural(in.DaysLeft, "day")), false
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// logAttrs are the structured fields of a licence log line (never the key).
func logAttrs(in Info) []any {
	return []any{"edition", in.Edition, "status", in.Status, "licensee", in.Licensee, "licence_id", in.ID,
		"expires", in.ExpiresAt, "days_left", in.DaysLeft, "source", in.Source}
}
