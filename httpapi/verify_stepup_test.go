package httpapi

import (
	"errors"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestStepUpRequirement(t *testing.T) {
	for _, tt := range []struct {
		query  string
		maxAge time.Duration
		acr    string
		bad    string
	}{
		{"max_age=300", 300 * time.Second, "", ""},
		{"acr_values=2", 0, "2", ""},
		{"acr_values=2+1&max_age=60", time.Minute, "1", ""},
		{"other=1", 0, "", ""},
		{"max_age=0", 0, "", "max_age"},
		{"max_age=-1", 0, "", "max_age"},
		{"max_age=5m", 0, "", "max_age"},
		{"max_age=99999999999", 0, "", "max_age"},
		{"acr_values=gold", 0, "", "acr_values"},
		{"acr_values=%zz", 0, "", "acr_values"},
		{"acr_values=2%201&max_age=%33%30", 30 * time.Second, "1", ""},
	} {
		maxAge, acr, err := stepUpRequirement(tt.query)
		if tt.bad != "" {
			var e *sm.Error
			if !errors.As(err, &e) || e.Fields[tt.bad] == "" {
				t.Errorf("%q: %s not reported: %v", tt.query, tt.bad, err)
			}
			continue
		}
		if err != nil || maxAge != tt.maxAge || acr != tt.acr {
			t.Errorf("%q = %v %q %v, want %v %q", tt.query, maxAge, acr, err, tt.maxAge, tt.acr)
		}
	}
}
