package alert

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// translatedForms are IPv6 (and reserved IPv4) addresses that reach a
// private or reserved IPv4 address, or are reserved themselves.
var translatedForms = []string{
	"64:ff9b::7f00:1",                      // NAT64 of 127.0.0.1
	"64:ff9b::a9fe:a9fe",                   // NAT64 of 169.254.169.254
	"64:ff9b:1::a00:1",                     // local-use NAT64
	"2002:7f00:1::1",                       // 6to4 of 127.0.0.1
	"2002:a00:1::",                         // 6to4 of 10.0.0.1
	"::7f00:1",                             // IPv4-compatible 127.0.0.1
	"::a9fe:a9fe",                          // IPv4-compatible 169.254.169.254
	"2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
	"2001:0:a00:1::1",                      // Teredo, server 10.0.0.1
	"fe80::200:5efe:a00:1",                 // ISATAP of 10.0.0.1
	"2001:db8::5efe:7f00:1",                // ISATAP identifier of 127.0.0.1
	"192.0.0.8",
	"198.18.0.1",
	"198.19.255.254",
	"240.0.0.1",
	"100::1",
	"fec0::1",
}

func TestInternalAddrTranslatedForms(t *testing.T) {
	for _, s := range translatedForms {
		if !internalAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s reaches an internal address and must be refused", s)
		}
	}
	// A test send to a literal translated address is refused before any dial.
	w := NewWorker(WorkerConfig{Dispatcher: NewDispatcher(nil)})
	for _, s := range translatedForms {
		host := s
		if strings.Contains(s, ":") {
			host = "[" + s + "]"
		}
		ch := sm.AlertChannel{Type: ChannelSlack, URL: "https://" + host + "/services/x"}
		var se *sm.Error
		if err := w.Test(t.Context(), ch); !errors.As(err, &se) || se.Code != sm.EINVALID || !strings.Contains(se.Fields["channel.url"], "private") {
			t.Errorf("test send to %s: %v; want the URL refused", host, err)
		}
	}
	// The same translations of a public address stay allowed.
	for _, s := range []string{"64:ff9b::808:808", "2002:808:808::1", "2001:0:808:808:8000:63bf:f7f7:f7f7", "198.20.0.1", "192.0.1.1", "2606:4700::1111"} {
		if internalAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s reaches a public address and must be allowed", s)
		}
	}
}

// TestDialRefusesTranslatedFormsAfterDNS resolves names through a DNS
// server on this machine and dials through the real sender's client,
// skipping the save-time check: the dial guard alone must refuse every
// translated form the name resolves to.
func TestDialRefusesTranslatedFormsAfterDNS(t *testing.T) {
	zone := map[string][]netip.Addr{}
	for i, s := range translatedForms {
		zone["t"+strings.Repeat("x", i)+".example.test."] = []netip.Addr{netip.MustParseAddr(s)}
	}
	policy := TargetPolicy{Resolver: localResolver(t, zone)}
	poster := newHTTPPoster(HTTPConfig{Targets: policy, Timeout: 2 * time.Second})
	i := 0
	for name, addrs := range zone {
		i++
		host := strings.TrimSuffix(name, ".")
		got, err := policy.Resolver.LookupNetIP(t.Context(), "ip", host)
		if err != nil || len(got) != 1 || got[0].Unmap() != addrs[0].Unmap() {
			t.Fatalf("local DNS answered %v, %v for %s; want %v", got, err, host, addrs)
		}
		if msg := policy.CheckURL(t.Context(), "https://"+host+"/hook"); msg == "" {
			t.Errorf("CheckURL accepted %s -> %s", host, addrs[0])
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+host+":9/hook", nil)
		resp, err := poster.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, errBlockedAddr) {
			t.Errorf("dial to %s (%s) = %v; want the dial guard's refusal", host, addrs[0], err)
		}
		// The sender's own path refuses it too, permanently.
		if err := poster.post(t.Context(), "https://"+host+"/hook", []byte("{}"), nil); !IsPermanent(err) {
			t.Errorf("post to %s = %v; want a permanent refusal", host, err)
		}
	}
}

// localResolver is a net.Resolver whose every query goes to a small DNS
// server on 127.0.0.1 answering A and AAAA from zone.
func localResolver(t *testing.T, zone map[string][]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go serveDNS(pc, zone)
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// serveDNS answers single-question queries with the zone's A or AAAA
// records (NXDOMAIN for unknown names) until pc is closed.
func serveDNS(pc net.PacketConn, zone map[string][]netip.Addr) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if n < 12 {
			continue
		}
		// Question: labels, then type and class.
		i, name := 12, ""
		for i < n && q[i] != 0 {
			l := int(q[i])
			if i+1+l > n {
				break
			}
			name += string(q[i+1:i+1+l]) + "."
			i += 1 + l
		}
		if i+5 > n {
			continue
		}
		qtype := binary.BigEndian.Uint16(q[i+1:])
		question := q[12 : i+5]
		var answers [][]byte
		addrs, known := zone[strings.ToLower(name)]
		for _, a := range addrs {
			a = a.Unmap()
			if (qtype == 1 && a.Is4()) || (qtype == 28 && a.Is6()) {
				rr := []byte{0xc0, 12, 0, byte(qtype), 0, 1, 0, 0, 0, 60}
				raw := a.AsSlice()
				rr = binary.BigEndian.AppendUint16(rr, uint16(len(raw)))
				answers = append(answers, append(rr, raw...))
			}
		}
		resp := make([]byte, 12, 512)
		copy(resp, q[:2]) // id
		resp[2] = 0x81    // response, recursion desired
		resp[3] = 0x80    // recursion available
		if !known {
			resp[3] |= 3 // NXDOMAIN
		}
		binary.BigEndian.PutUint16(resp[4:], 1)
		binary.BigEndian.PutUint16(resp[6:], uint16(len(answers)))
		resp = append(resp, question...)
		for _, a := range answers {
			resp = append(resp, a...)
		}
		_, _ = pc.WriteTo(resp, from)
	}
}
