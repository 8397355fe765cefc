package cluster

import "testing"

func TestFailMode(t *testing.T) {
	tests := []struct {
		in                string
		want              FailMode
		wantErr           bool
		serveDown, bypass bool
	}{
		{in: "", want: FailOpen, serveDown: true, bypass: true},
		{in: "open", want: FailOpen, serveDown: true, bypass: true},
		{in: " Closed ", want: FailClosed, serveDown: false, bypass: true},
		{in: "maybe", wantErr: true},
	}
	for _, tt := range tests {
		m, err := ParseFailMode(tt.in)
		if (err != nil) != tt.wantErr || m != tt.want {
			t.Fatalf("ParseFailMode(%q) = %q, %v", tt.in, m, err)
		}
		if tt.wantErr {
			continue
		}
		if !m.Serve(true) || m.BypassCache(true) {
			t.Fatalf("%s: a healthy Redis must serve from the cache", m)
		}
		if m.Serve(false) != tt.serveDown || m.BypassCache(false) != tt.bypass {
			t.Fatalf("%s with Redis down: serve=%v bypass=%v", m, m.Serve(false), m.BypassCache(false))
		}
	}
}
