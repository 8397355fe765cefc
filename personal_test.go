package sessionmanager_test

import (
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// TestPersonalNames: which events' personal fields name a user (erasure
// reaches them): a whole string value equal to the email or username,
// case-insensitively, at any depth; nothing else.
func TestPersonalNames(t *testing.T) {
	names := []string{"ann@example.com", "ann"}
	tests := []struct {
		personal string
		want     bool
	}{
		{`{"email":"ann@example.com"}`, true},
		{`{"identifier":"ANN@Example.COM"}`, true},
		{`{"identifier":"Ann"}`, true},
		{`{"identifier":" ann\t"}`, true},
		{`{"a":{"b":["x","ann"]}}`, true},
		{`{"email":"ann@example.com.au"}`, false},
		{`{"identifier":"anna"}`, false},
		{`{"note":"ann@example.com wrote"}`, false},
		{`{"n":1,"b":true,"z":null}`, false},
		{`not json`, false},
		{``, false},
		{`null`, false},
	}
	for _, tc := range tests {
		if got := sm.PersonalNames([]byte(tc.personal), names...); got != tc.want {
			t.Errorf("PersonalNames(%s) = %v, want %v", tc.personal, got, tc.want)
		}
	}
	if sm.PersonalNames([]byte(`{"identifier":""}`), "", "") {
		t.Error("an empty name matches an empty value")
	}
}
