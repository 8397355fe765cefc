package httpapi

import (
	"net/url"
	"testing"
	"time"
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
	} {
		q, _ := url.ParseQuery(tt.query)
		maxAge, acr, bad := stepUpRequirement(q)
		if tt.bad != "" {
			if bad[tt.bad] == "" {
				t.Errorf("%q: %s not reported: %v", tt.query, tt.bad, bad)
			}
			continue
		}
		if len(bad) > 0 || maxAge != tt.maxAge || acr != tt.acr {
			t.Errorf("%q = %v %q %v, want %v %q", tt.query, maxAge, acr, bad, tt.maxAge, tt.acr)
		}
	}
}
