package device

import (
	"strings"
	"sync"
	"unicode/utf8"

	sm "github.com/magic-sessionmanager/sessionmanager"
	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// MaxLen caps the User-Agent looked at: real ones are under 512 bytes, and
// the rest of an abusive header changes nothing but the cost.
const MaxLen = 1024

// Device types.
const (
	TypeDesktop = "desktop"
	TypeMobile  = "mobile"
	TypeTablet  = "tablet"
	TypeTV      = "tv"
	TypeBot     = "bot"
	TypeUnknown = "unknown"
)

// Parser implements sessionmanager.UserAgentParser. It is safe for
// concurrent use; build one with New and share it.
type Parser struct {
	ua *useragent.Parser
}

var _ sm.UserAgentParser = (*Parser)(nil)

// New builds the parser (its trie is built once per process, then moved
// off the collected heap: offheap.go).
func New() *Parser {
	ua := useragent.NewParser() // the library's one parser for the process
	moveOnce.Do(func() { ua.Trie = offHeap(ua.Trie) })
	return &Parser{ua: ua}
}

var moveOnce sync.Once

// Parse returns the device of ua; an empty or unrecognised ua gives Type
// unknown and empty names.
func (p *Parser) Parse(ua string) sm.Device {
	if len(ua) > MaxLen {
		ua = ua[:MaxLen]
	}
	ua = strings.TrimSpace(stripNonASCII(ua))
	if ua == "" {
		return sm.Device{Type: TypeUnknown}
	}
	agent := p.ua.Parse(ua)
	d := sm.Device{
		Type:           deviceType(agent.Device(), ua),
		Browser:        browserName(agent.Browser()),
		BrowserVersion: majorMinor(agent.BrowserVersion()),
		OS:             osName(agent.OS()),
	}
	if d.OS == "" && d.Type == TypeTV && strings.Contains(ua, "Linux") {
		d.OS = "Linux" // webOS and Tizen TVs run Linux
	}
	d.OSVersion = osVersion(d.OS, ua)
	if d.Browser == "" {
		d.BrowserVersion = ""
		if d.Type == TypeBot {
			d.Browser = botName(ua)
		}
	}
	return d
}

// stripNonASCII drops non-ASCII runes (and invalid bytes): User-Agents are
// ASCII, and the trie walks other runes up to 100 times slower, so a header
// full of them would be a cheap way to burn CPU.
func stripNonASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune {
				if r >= utf8.RuneSelf {
					return -1
				}
				return r
			}, s)
		}
	}
	return s
}

// deviceType maps the parser's device and fixes two known gaps: Android
// tablets (Android browsers mark phones with "Mobile"; tablets lack it) and
// smart TVs the parser does not know.
func deviceType(d agents.Device, ua string) string {
	switch d {
	case agents.DeviceDesktop:
		return TypeDesktop
	case agents.DeviceMobile:
		if strings.Contains(ua, "Android") && !strings.Contains(ua, "Mobile") {
			return TypeTablet
		}
		return TypeMobile
	case agents.DeviceTablet:
		return TypeTablet
	case agents.DeviceTV:
		return TypeTV
	case agents.DeviceBot:
		return TypeBot
	}
	for _, marker := range []string{"SmartTV", "SMART-TV", "Web0S", "webOS.TV", "HbbTV", "AppleTV", "CrKey"} {
		if strings.Contains(ua, marker) {
			return TypeTV
		}
	}
	return TypeUnknown
}

// browserName maps the parser's names to the ones the dashboard shows.
func browserName(b agents.Browser) string {
	switch b {
	case agents.BrowserSamsung:
		return "Samsung Internet"
	case agents.BrowserIE:
		return "Internet Explorer"
	}
	return string(b)
}

// osName maps the parser's OS names to their usual spelling.
func osName(o agents.OS) string {
	if o == agents.OSMacOS {
		return "macOS"
	}
	return string(o)
}

// majorMinor keeps at most the first two parts of a version: the rest is
// noise for display and grouping.
func majorMinor(v string) string {
	if first := strings.IndexByte(v, '.'); first >= 0 {
		if second := strings.IndexByte(v[first+1:], '.'); second >= 0 {
			v = v[:first+1+second]
		}
	}
	if len(v) > maxVersionLen {
		return "" // made up: the field is stored and shown
	}
	return v
}
