package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/license"
)

// testCA makes a CA and a certificate for 127.0.0.1 signed by it; it
// writes the CA to a PEM file for SSL_CERT_FILE.
func testCA(t *testing.T) (caFile string, serverCert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sessionmanager test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "test-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}

// TestTorFeedFromLocalHTTPSFlagsLogin: the service downloads the Tor list
// in the background from an HTTPS server it trusts through SSL_CERT_FILE,
// and a login from a listed exit is then refused as Tor.
func TestTorFeedFromLocalHTTPSFlagsLogin(t *testing.T) {
	caFile, cert := testCA(t)
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		_, _ = w.Write([]byte("185.220.101.7\n185.220.101.8\n"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	s := startServer(t, map[string]string{
		"SM_THREAT_FEEDS": "tor", "SM_TOR_EXITS": srv.URL + "/torbulkexitlist", "SSL_CERT_FILE": caFile,
		"SM_TRUSTED_PROXIES": "127.0.0.1", "LICENSE_KEY": testLicense(t, license.EditionAdvanced),
	})
	read := s.adminToken("read")
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, body := s.call("GET", "/api/admin/geo/185.220.101.7", read, nil)
		data, _ := body["data"].(map[string]any)
		threat, _ := data["threat"].(map[string]any)
		if code == 200 && threat["tor"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Tor list not downloaded: %d %v\n%s", code, body, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, reg := s.callFrom("81.2.69.160", "POST", "/api/auth/local/register", "", map[string]any{"username": "tess", "email": "tess@example.com", "password": "correct horse battery"}); code != 200 {
		t.Fatalf("register: %d %v", code, reg)
	}
	code, out := s.callFrom("185.220.101.7", "POST", "/api/auth/local", "", map[string]any{"identifier": "tess", "password": "correct horse battery"})
	if code != 403 || errReason(out) != "tor" {
		t.Fatalf("login from a listed Tor exit: %d %v", code, out)
	}
	entries, _ := filepath.Glob(filepath.Join(s.env["SM_DATA_DIR"], "threat-lists", "tor-*.list"))
	if len(entries) != 1 {
		t.Errorf("cached copy under the data dir: %v", entries)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Errorf("%d downloads, want 1 (only the configured feed, once)", hits)
	}
}

func TestGeoConfigErrorsNameTheVariable(t *testing.T) {
	for _, c := range []struct{ env map[string]string }{
		{map[string]string{"SM_GEOIP_RELOAD": "often"}},
		{map[string]string{"SM_THREAT_REFRESH": "0"}},
		{map[string]string{"SM_THREAT_FEEDS": "tor,everything"}},
		{map[string]string{"SM_THREAT_FEEDS": "off", "SM_VPN_RANGES": "https://example.com/vpn.txt"}},
		{map[string]string{"SSL_CERT_FILE": "/nonexistent/ca.pem"}},
	} {
		_, err := loadConfig(func(k string) string { return c.env[k] }, nil)
		var ce *configError
		if err == nil || !asConfigError(err, &ce) {
			t.Errorf("%v: want a configuration error, got %v", c.env, err)
			continue
		}
		named := false
		for name := range c.env {
			named = named || strings.Contains(err.Error(), name)
		}
		if !named || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: message %q should name the variable on one line", c.env, err)
		}
	}
	// SM_GEOIP_RELOAD and SM_GEOIP_CACHE_DIR reach the geo configuration.
	env := map[string]string{"SM_GEOIP_RELOAD": "7s", "SM_GEOIP_CACHE_DIR": "/var/cache/sm", "SM_THREAT_REFRESH": "3h"}
	c, err := loadConfig(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Geo.ReloadInterval != 7*time.Second || c.Geo.CacheDir != "/var/cache/sm" || c.Geo.RefreshInterval != 3*time.Hour || len(c.Geo.Feeds) == 0 {
		t.Errorf("geo config = %+v", c.Geo)
	}
	c, _ = loadConfig(func(k string) string { return map[string]string{"SM_DATA_DIR": "/srv/sm"}[k] }, nil)
	if c.Geo.CacheDir != "/srv/sm/threat-lists" {
		t.Errorf("default cache dir = %q", c.Geo.CacheDir)
	}
}
