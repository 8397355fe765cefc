package alert

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	prod := TargetPolicy{}
	dev := TargetPolicy{AllowHTTPLoopback: true}
	private := TargetPolicy{AllowPrivateTargets: true}
	tests := []struct {
		policy TargetPolicy
		url    string
		ok     bool
	}{
		{prod, "https://203.0.113.10/hook", true},
		{prod, "https://[2001:db8::1]/hook", true},
		{prod, "http://203.0.113.10/hook", false},
		{prod, "ftp://203.0.113.10/hook", false},
		{prod, "https://user:pw@203.0.113.10/hook", false},
		{prod, "/relative", false},
		{prod, "https://127.0.0.1/hook", false},
		{prod, "https://localhost/hook", false},
		{prod, "https://10.1.2.3/hook", false},
		{prod, "https://172.16.0.1/hook", false},
		{prod, "https://192.168.1.1/hook", false},
		{prod, "https://169.254.169.254/latest/meta-data", false},
		{prod, "https://100.64.0.1/hook", false},
		{prod, "https://0.0.0.0/hook", false},
		{prod, "https://[::1]/hook", false},
		{prod, "https://[fd00::1]/hook", false},
		{prod, "https://[fe80::1]/hook", false},
		{prod, "https://[::]/hook", false},
		{prod, "https://[::ffff:10.0.0.1]/hook", false},
		{dev, "http://127.0.0.1:8080/hook", true},
		{dev, "http://localhost:8080/hook", true},
		{dev, "http://10.0.0.1/hook", false},
		{dev, "http://203.0.113.10/hook", false},
		{dev, "https://127.0.0.1/hook", true}, // loopback allowed in development
		{private, "https://10.1.2.3/hook", true},
		{private, "http://10.1.2.3/hook", false},
	}
	for _, tt := range tests {
		msg := tt.policy.CheckURL(ctx, tt.url)
		if (msg == "") != tt.ok {
			t.Errorf("CheckURL(%+v, %q) = %q, want ok=%v", tt.policy, tt.url, msg, tt.ok)
		}
	}
}

func TestInternalAddr(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "127.0.0.1", "169.254.1.1", "100.100.1.1", "0.0.0.0", "::", "::1", "fc00::1", "fe80::1", "224.0.0.1", "255.255.255.255", "::ffff:192.168.0.1"} {
		if !internalAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s should be internal", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "203.0.113.1", "2606:4700::1111"} {
		if internalAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s should be public", s)
		}
	}
}

// The dial guard refuses internal addresses at connect time, whatever the
// URL check said (DNS rebinding).
func TestDialGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	p := newHTTPPoster(HTTPConfig{Targets: TargetPolicy{}})
	resp, err := p.client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("production client connected to a loopback address")
	}
	if !errors.Is(err, errBlockedAddr) {
		t.Fatalf("error %v is not the dial guard's", err)
	}
	p = newHTTPPoster(HTTPConfig{Targets: TargetPolicy{AllowHTTPLoopback: true}})
	resp, err = p.client.Get(srv.URL)
	if err != nil {
		t.Fatalf("development client: %v", err)
	}
	resp.Body.Close()
}
