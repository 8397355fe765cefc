package alert

import (
	"strconv"
	"testing"
	"time"
)

func TestVerifySignature(t *testing.T) {
	secret := []byte("0123456789abcdef0123")
	body := []byte(`{"id":"a1","type":"login.succeeded"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(secret, ts, body)
	tests := []struct {
		name      string
		secret    []byte
		ts        string
		body      []byte
		sig       string
		now       time.Time
		wantValid bool
	}{
		{"valid", secret, ts, body, good, now, true},
		{"valid within tolerance", secret, ts, body, good, now.Add(4 * time.Minute), true},
		{"one of several (rotation)", secret, ts, body, "v1=deadbeef, " + good, now, true},
		{"too old", secret, ts, body, good, now.Add(6 * time.Minute), false},
		{"from the future", secret, ts, body, good, now.Add(-6 * time.Minute), false},
		{"body changed", secret, ts, []byte(`{"id":"a2"}`), good, now, false},
		{"timestamp changed", secret, strconv.FormatInt(now.Unix()+1, 10), body, good, now, false},
		{"wrong secret", []byte("another-secret-0000"), ts, body, good, now, false},
		{"no v1 prefix", secret, ts, body, good[3:], now, false},
		{"empty", secret, ts, body, "", now, false},
		{"bad timestamp", secret, "yesterday", body, good, now, false},
	}
	for _, tt := range tests {
		err := VerifySignature(tt.secret, tt.ts, tt.body, tt.sig, tt.now, 5*time.Minute)
		if (err == nil) != tt.wantValid {
			t.Errorf("%s: err = %v, want valid %v", tt.name, err, tt.wantValid)
		}
	}
	if len(good) != 3+64 || good[:3] != "v1=" {
		t.Fatalf("signature format %q", good)
	}
}
