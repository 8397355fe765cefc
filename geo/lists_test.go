package geo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bumpMtime makes a rewrite visible to the mtime+size check even when the
// filesystem clock is coarse.
func bumpMtime(t testing.TB, path string, d time.Duration) {
	t.Helper()
	at := time.Now().Add(d)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestListsFromFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"tor.txt": "185.220.101.1\n", "vpn.txt": "45.83.220.0/22\n", "proxy.txt": "198.199.64.0/18\n",
		"dc.txt": "34.0.0.0/15\n2600:1900::/28\n", "threat.txt": "5.188.10.0/23\n",
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	p := func(n string) []string { return []string{filepath.Join(dir, n)} }
	r := openResolver(t, Config{
		TorExits: p("tor.txt"), VPNRanges: p("vpn.txt"), ProxyRanges: p("proxy.txt"),
		DatacenterRanges: p("dc.txt"), ThreatRanges: p("threat.txt"),
	})
	check := func(ip, want string) {
		t.Helper()
		th := lookup(t, r, ip).Threat
		got := []string{}
		for name, on := range map[string]bool{"tor": th.Tor, "vpn": th.VPN, "proxy": th.Proxy, "dc": th.Datacenter, "threat": th.KnownThreat} {
			if on {
				got = append(got, name)
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s flags = %v, want %q", ip, got, want)
		}
	}
	check("185.220.101.1", "tor")
	check("185.220.101.2", "")
	check("45.83.223.255", "vpn")
	check("198.199.100.1", "proxy")
	check("34.1.2.3", "dc")
	check("2600:1900:1::1", "dc")
	check("5.188.11.1", "threat")
	check("::ffff:185.220.101.1", "tor")

	// A change on disk is picked up by ReloadFiles once it has stayed the
	// same across two checks; an emptied file is not.
	tor := filepath.Join(dir, "tor.txt")
	writeFile(t, tor, "185.220.101.2\n")
	bumpMtime(t, tor, time.Second)
	r.ReloadFiles()
	r.ReloadFiles()
	check("185.220.101.1", "")
	check("185.220.101.2", "tor")
	writeFile(t, tor, "# nothing\n")
	bumpMtime(t, tor, 2*time.Second)
	r.ReloadFiles()
	r.ReloadFiles()
	check("185.220.101.2", "tor")
}

// listServer serves a list over TLS; body and status can change per test step.
type listServer struct {
	mu     sync.Mutex
	body   string
	status int
	hits   int
}

func (s *listServer) set(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits++
	w.WriteHeader(s.status)
	_, _ = w.Write([]byte(s.body))
}

func TestListsFromURL(t *testing.T) {
	ls := &listServer{status: 200, body: "# exits\n185.220.101.1\n185.220.101.2\n"}
	srv := httptest.NewTLSServer(ls)
	defer srv.Close()
	cache := t.TempDir()
	cfg := Config{TorExits: []string{srv.URL + "/torbulkexitlist"}, CacheDir: cache, HTTPClient: srv.Client()}
	r := openResolver(t, cfg)
	ls.mu.Lock()
	hits := ls.hits
	ls.mu.Unlock()
	if hits != 0 {
		t.Fatal("Open downloaded: start-up must not wait for the network")
	}
	r.RefreshLists(context.Background())
	if !lookup(t, r, "185.220.101.1").Threat.Tor {
		t.Fatal("first download not used")
	}

	// Refresh replaces the list.
	ls.set(200, "185.220.101.3\n")
	r.RefreshLists(context.Background())
	if lookup(t, r, "185.220.101.1").Threat.Tor || !lookup(t, r, "185.220.101.3").Threat.Tor {
		t.Fatal("refresh not applied")
	}

	// A failed and an empty refresh keep the last good list.
	for _, step := range []struct {
		status int
		body   string
	}{{500, "oops"}, {200, ""}, {200, "# only comments\n"}, {404, "185.220.101.9\n"}} {
		ls.set(step.status, step.body)
		r.RefreshLists(context.Background())
		if !lookup(t, r, "185.220.101.3").Threat.Tor {
			t.Fatalf("after HTTP %d %q the list was lost", step.status, step.body)
		}
		st := source(t, r, cfg.TorExits[0])
		if st.LastError == "" || st.Records != 1 {
			t.Errorf("status after failure = %+v", st)
		}
	}

	// The server goes away: a new Resolver starts from the last good copy on disk.
	srv.Close()
	r2 := openResolver(t, cfg)
	if !lookup(t, r2, "185.220.101.3").Threat.Tor {
		t.Fatal("cached copy not loaded at start")
	}
	if lookup(t, r2, "185.220.101.1").Threat.Tor {
		t.Fatal("stale copy loaded")
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 || !strings.HasPrefix(entries[0].Name(), "tor-") {
		t.Errorf("cache dir = %v, want one tor-*.list and its .meta.json", entries)
	}
}

// TestURLListDownloadFailsAtStart: no cache and no server is not fatal.
func TestURLListDownloadFailsAtStart(t *testing.T) {
	ls := &listServer{status: 503}
	srv := httptest.NewTLSServer(ls)
	defer srv.Close()
	r := openResolver(t, Config{VPNRanges: []string{srv.URL}, HTTPClient: srv.Client()})
	if lookup(t, r, "1.2.3.4").Threat.VPN {
		t.Fatal("VPN without data")
	}
	ls.set(200, "1.2.3.0/24\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	// Run refreshes a never-downloaded list at once; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for !lookup(t, r, "1.2.3.4").Threat.VPN {
		if time.Now().After(deadline) {
			t.Fatal("Run did not download the list")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}
