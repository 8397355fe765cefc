package device

import (
	"strings"
	"testing"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// realUAs are User-Agent headers as current browsers, bots and tools send
// them, with the device we expect.
var realUAs = []struct {
	name string
	ua   string
	want sm.Device
}{
	{"Chrome on Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "131.0", OS: "Windows", OSVersion: "10"}},
	{"Firefox on Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
		sm.Device{Type: "desktop", Browser: "Firefox", BrowserVersion: "133.0", OS: "Windows", OSVersion: "10"}},
	{"Edge on Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
		sm.Device{Type: "desktop", Browser: "Edge", BrowserVersion: "131.0", OS: "Windows", OSVersion: "10"}},
	{"Opera on Windows 7",
		"Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36 OPR/95.0.0.0",
		sm.Device{Type: "desktop", Browser: "Opera", BrowserVersion: "95.0", OS: "Windows", OSVersion: "7"}},
	{"Safari on macOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		sm.Device{Type: "desktop", Browser: "Safari", BrowserVersion: "18.1", OS: "macOS", OSVersion: "10.15"}},
	{"Chrome on macOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "131.0", OS: "macOS", OSVersion: "10.15"}},
	{"Firefox on macOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
		sm.Device{Type: "desktop", Browser: "Firefox", BrowserVersion: "133.0", OS: "macOS", OSVersion: "10.15"}},
	{"Chrome on Linux",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "131.0", OS: "Linux"}},
	{"Firefox on Ubuntu",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		sm.Device{Type: "desktop", Browser: "Firefox", BrowserVersion: "133.0", OS: "Linux"}},
	{"Chrome on ChromeOS",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		sm.Device{Type: "desktop", Browser: "Chrome", BrowserVersion: "131.0", OS: "ChromeOS"}},
	{"Safari on iPhone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		sm.Device{Type: "mobile", Browser: "Safari", BrowserVersion: "17.6", OS: "iOS", OSVersion: "17.6"}},
	{"Chrome on iPhone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
		sm.Device{Type: "mobile", Browser: "Chrome", BrowserVersion: "131.0", OS: "iOS", OSVersion: "18.1"}},
	{"Safari on iPad",
		"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		sm.Device{Type: "tablet", Browser: "Safari", BrowserVersion: "17.6", OS: "iOS", OSVersion: "17.6"}},
	{"Chrome on Android phone",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
		sm.Device{Type: "mobile", Browser: "Chrome", BrowserVersion: "131.0", OS: "Android", OSVersion: "14"}},
	{"Chrome on Android tablet",
		"Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		sm.Device{Type: "tablet", Browser: "Chrome", BrowserVersion: "131.0", OS: "Android", OSVersion: "13"}},
	{"Samsung Internet on Android",
		"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		sm.Device{Type: "mobile", Browser: "Samsung Internet", BrowserVersion: "26.0", OS: "Android", OSVersion: "14"}},
	{"Samsung smart TV",
		"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
		sm.Device{Type: "tv", Browser: "Samsung Internet", BrowserVersion: "4.0", OS: "Linux"}},
	{"LG webOS TV",
		"Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
		sm.Device{Type: "tv", OS: "Linux"}},
	{"Googlebot",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		sm.Device{Type: "bot", Browser: "Googlebot"}},
	{"Googlebot smartphone",
		"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		sm.Device{Type: "bot", Browser: "Chrome", BrowserVersion: "131.0", OS: "Android", OSVersion: "6.0"}},
	{"bingbot",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		sm.Device{Type: "bot", Browser: "bingbot"}},
	{"curl", "curl/8.5.0", sm.Device{Type: "bot", Browser: "curl"}},
	{"python-requests", "python-requests/2.31.0", sm.Device{Type: "bot", Browser: "python-requests"}},
	{"Go http client", "Go-http-client/1.1", sm.Device{Type: "bot", Browser: "Go-http-client"}},
}

func TestParseRealUserAgents(t *testing.T) {
	p := New()
	for _, tt := range realUAs {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Parse(tt.ua); got != tt.want {
				t.Fatalf("Parse =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestParseUnknown(t *testing.T) {
	p := New()
	unknown := sm.Device{Type: "unknown"}
	for _, ua := range []string{
		"",
		"   ",
		"garbage",
		"Mozilla/5.0",
		"()()((((;;;///",
		"\x00\xff\xfe\xfd",
		strings.Repeat("(", 5000),
	} {
		if got := p.Parse(ua); got != unknown {
			t.Errorf("Parse(%.40q) = %+v, want %+v", ua, got, unknown)
		}
	}
}

func TestParseCapsLength(t *testing.T) {
	p := New()
	chrome := realUAs[0]
	padded := chrome.ua + strings.Repeat(" Firefox/133.0", 500)
	if got := p.Parse(padded); got.Type != "desktop" || got.OS != "Windows" {
		t.Fatalf("long UA: %+v", got)
	}
	// Past MaxLen nothing counts: a bot marker there is not seen.
	hidden := chrome.ua + strings.Repeat(" ", MaxLen) + " (compatible; Googlebot/2.1)"
	if got := p.Parse(hidden); got != chrome.want {
		t.Fatalf("marker past MaxLen changed the result: %+v", got)
	}
}

func TestMajorMinor(t *testing.T) {
	tests := map[string]string{
		"":              "",
		"131":           "131",
		"131.0":         "131.0",
		"131.0.2903.70": "131.0",
		"17.6.1":        "17.6",
		".5":            ".5",
	}
	for in, want := range tests {
		if got := majorMinor(in); got != want {
			t.Errorf("majorMinor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersionAfter(t *testing.T) {
	tests := []struct{ ua, marker, want string }{
		{"(iPhone; CPU iPhone OS 17_6_1 like Mac OS X)", "iPhone OS ", "17.6"},
		{"(Linux; Android 14; Pixel 8)", "Android ", "14"},
		{"(Linux; Android 6.0.1; Nexus)", "Android ", "6.0"},
		{"Intel Mac OS X 10_15_7)", "Mac OS X ", "10.15"},
		{"Intel Mac OS X 10.15; rv", "Mac OS X ", "10.15"},
		{"Windows NT 10.0; Win64", "Windows NT ", "10.0"},
		{"Android 14.", "Android ", "14"},
		{"Android 14_", "Android ", "14"},
		{"Android x", "Android ", ""},
		{"no marker", "Android ", ""},
		{"Android ", "Android ", ""},
	}
	for _, tt := range tests {
		if got := versionAfter(tt.ua, tt.marker); got != tt.want {
			t.Errorf("versionAfter(%q, %q) = %q, want %q", tt.ua, tt.marker, got, tt.want)
		}
	}
}

func TestBotName(t *testing.T) {
	tests := map[string]string{
		"curl/8.5.0": "curl",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": "Googlebot",
		"Wget":                      "Wget",
		"evil<script>/1.0":          "",
		"\xff\xfebot/1.0":           "",
		strings.Repeat("a", 65):     "",
		"compatible; YandexBot/3.0": "YandexBot",
	}
	for ua, want := range tests {
		if got := botName(ua); got != want {
			t.Errorf("botName(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestParseIgnoresNonASCII(t *testing.T) {
	p := New()
	chrome := realUAs[0]
	withRunes := strings.Replace(chrome.ua, "Win64;", "Win64; 日本語 \xff;", 1)
	if got := p.Parse(withRunes); got != chrome.want {
		t.Fatalf("Parse with non-ASCII = %+v, want %+v", got, chrome.want)
	}
}
