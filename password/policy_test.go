package password

import (
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr string
	}{
		{"8 ascii", "abcdefgh", ""},
		{"7 ascii", "abcdefg", "at least 8 characters"},
		{"empty", "", "at least 8 characters"},
		{"8 runes of 2 bytes", strings.Repeat("é", 8), ""},
		{"7 emoji are 28 bytes but 7 characters", strings.Repeat("🔑", 7), "at least 8 characters"},
		{"128 ascii", strings.Repeat("a", 128), ""},
		{"129 ascii", strings.Repeat("a", 129), "at most 128 characters"},
		{"128 emoji (512 bytes)", strings.Repeat("🔑", 128), ""},
		{"over 1024 bytes", strings.Repeat("a", 1025), "at most 128 characters"},
		{"invalid utf-8", "abcdefgh\xff", "valid UTF-8"},
		{"spaces count", "        ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.pw)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var e *sm.Error
			if err == nil || sm.ErrorCode(err) != sm.EINVALID || !strings.Contains(sm.ErrorMessage(err), tt.wantErr) {
				t.Fatalf("Validate = %v, want EINVALID %q", err, tt.wantErr)
			}
			e = err.(*sm.Error)
			if e.Fields["password"] != e.Message {
				t.Fatalf("field password = %q, want the message", e.Fields["password"])
			}
		})
	}
}
