package geo

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Feed is a list downloaded from the internet in the background: a default
// from DefaultFeeds or, through ConfigFromEnv, one of them turned off.
type Feed struct {
	// Name identifies the feed in the status and in SM_THREAT_FEEDS.
	Name string
	// Kind is the flag it sets (KindTor, KindVPN, KindDatacenter, KindThreat...).
	Kind string
	// URL is an https URL; the format is detected from the content.
	URL string
	// Refresh is how often it is downloaded (Config.RefreshInterval wins).
	Refresh time.Duration
	// License, Attribution and AttributionURL are shown in the status.
	License, Attribution, AttributionURL string
	// Disabled, when not "", says why the feed is off ("SM_THREAT_FEEDS=off",
	// "replaced by SM_TOR_EXITS"...): it is listed, never loaded.
	Disabled string
}

// DefaultFeeds are the lists that need no account, downloaded unless
// configuration says otherwise (docs/GEO.md, "Threat feeds").
var DefaultFeeds = []Feed{
	{
		Name: "tor-exits", Kind: KindTor, URL: "https://check.torproject.org/torbulkexitlist", Refresh: time.Hour,
		License:     "Public list of Tor exit addresses, published by the Tor Project for anyone to use",
		Attribution: "The Tor Project", AttributionURL: "https://check.torproject.org/",
	},
	{
		Name: "aws", Kind: KindDatacenter, URL: "https://ip-ranges.amazonaws.com/ip-ranges.json", Refresh: 24 * time.Hour,
		License:     "Amazon Web Services' published IP address ranges (public)",
		Attribution: "Amazon Web Services", AttributionURL: "https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html",
	},
	{
		Name: "gcp", Kind: KindDatacenter, URL: "https://www.gstatic.com/ipranges/cloud.json", Refresh: 24 * time.Hour,
		License:     "Google Cloud's published external IP address ranges (public)",
		Attribution: "Google Cloud", AttributionURL: "https://cloud.google.com/compute/docs/faq#find_ip_range",
	},
	{
		Name: "oracle", Kind: KindDatacenter, URL: "https://docs.oracle.com/en-us/iaas/tools/public_ip_ranges.json", Refresh: 24 * time.Hour,
		License:     "Oracle Cloud Infrastructure's published public IP ranges (public)",
		Attribution: "Oracle Cloud Infrastructure", AttributionURL: "https://docs.oracle.com/en-us/iaas/Content/General/Concepts/addressranges.htm",
	},
	{
		Name: "digitalocean", Kind: KindDatacenter, URL: "https://digitalocean.com/geo/google.csv", Refresh: 24 * time.Hour,
		License:     "DigitalOcean's published RFC 8805 geofeed (public)",
		Attribution: "DigitalOcean", AttributionURL: "https://docs.digitalocean.com/platform/",
	},
	{
		Name: "cloudflare-v4", Kind: KindDatacenter, URL: "https://www.cloudflare.com/ips-v4", Refresh: 24 * time.Hour,
		License:     "Cloudflare's published IP ranges (public)",
		Attribution: "Cloudflare", AttributionURL: "https://www.cloudflare.com/ips/",
	},
	{
		Name: "cloudflare-v6", Kind: KindDatacenter, URL: "https://www.cloudflare.com/ips-v6", Refresh: 24 * time.Hour,
		License:     "Cloudflare's published IP ranges (public)",
		Attribution: "Cloudflare", AttributionURL: "https://www.cloudflare.com/ips/",
	},
	{
		Name: "x4bnet-vpn", Kind: KindVPN, URL: "https://raw.githubusercontent.com/X4BNet/lists_vpn/main/output/vpn/ipv4.txt", Refresh: 12 * time.Hour,
		License:     "MIT",
		Attribution: "X4BNet lists_vpn", AttributionURL: "https://github.com/X4BNet/lists_vpn",
	},
	{
		Name: "firehol-level1", Kind: KindThreat, URL: "https://raw.githubusercontent.com/firehol/blocklist-ipsets/master/firehol_level1.netset", Refresh: 6 * time.Hour,
		License:     "FireHOL blocklist-ipsets; each list it aggregates keeps its maintainer's terms",
		Attribution: "FireHOL", AttributionURL: "https://iplists.firehol.org/?ipset=firehol_level1",
	},
	{
		Name: "spamhaus-drop-v4", Kind: KindThreat, URL: "https://www.spamhaus.org/drop/drop_v4.json", Refresh: 12 * time.Hour,
		License:     "Spamhaus DROP, free to use under the DROP terms (download at most once an hour)",
		Attribution: "The Spamhaus Project", AttributionURL: "https://www.spamhaus.org/drop/",
	},
	{
		Name: "spamhaus-drop-v6", Kind: KindThreat, URL: "https://www.spamhaus.org/drop/drop_v6.json", Refresh: 12 * time.Hour,
		License:     "Spamhaus DROP, free to use under the DROP terms (download at most once an hour)",
		Attribution: "The Spamhaus Project", AttributionURL: "https://www.spamhaus.org/drop/",
	},
}

// DefaultTorRefreshInterval is how often a URL given in SM_TOR_EXITS is
// downloaded; other kinds use DefaultRefreshInterval.
const DefaultTorRefreshInterval = time.Hour

// feedSelected reports whether token (from SM_THREAT_FEEDS) names f: its
// name, its family ("cloudflare" for cloudflare-v4 and -v6) or its kind.
func feedSelected(f Feed, token string) bool {
	return f.Name == token || strings.HasPrefix(f.Name, token+"-") || f.Kind == token
}

// kindVars maps each list kind to its variable.
var kindVars = []struct{ name, kind string }{
	{"SM_TOR_EXITS", KindTor}, {"SM_VPN_RANGES", KindVPN}, {"SM_PROXY_RANGES", KindProxy},
	{"SM_DATACENTER_RANGES", KindDatacenter}, {"SM_THREAT_RANGES", KindThreat},
}

// feedsFromEnv applies SM_THREAT_FEEDS and the kind variables: it fills the
// kind lists of cfg with files and URLs and cfg.Feeds with the defaults,
// each disabled with its reason when configuration turned it off.
func feedsFromEnv(getenv func(string) string, cfg *Config, bad map[string]string) {
	sel := strings.ToLower(strings.TrimSpace(getenv("SM_THREAT_FEEDS")))
	var chosen []string // nil: every default
	switch sel {
	case "", "on", "default":
	case "off":
		cfg.NoDownloads = true
	default:
		chosen = splitList(sel)
		for _, tok := range chosen {
			if !slices.ContainsFunc(DefaultFeeds, func(f Feed) bool { return feedSelected(f, tok) }) {
				bad["SM_THREAT_FEEDS"] = fmt.Sprintf("%q is not a feed: use on, off or a comma-separated list of %s", tok, feedNames())
			}
		}
	}
	dst := map[string]*[]string{
		KindTor: &cfg.TorExits, KindVPN: &cfg.VPNRanges, KindProxy: &cfg.ProxyRanges,
		KindDatacenter: &cfg.DatacenterRanges, KindThreat: &cfg.ThreatRanges,
	}
	defaultsOff := map[string]string{} // kind -> reason
	for _, kv := range kindVars {
		tokens := splitList(getenv(kv.name))
		if len(tokens) == 0 {
			continue
		}
		useDefaults := false
		for _, tok := range tokens {
			switch strings.ToLower(tok) {
			case "default":
				useDefaults = true
			case "off":
				if len(tokens) > 1 {
					bad[kv.name] = "off must stand alone"
				}
			default:
				lower := strings.ToLower(tok)
				switch {
				case strings.HasPrefix(lower, "https://"):
					if cfg.NoDownloads {
						bad[kv.name] = fmt.Sprintf("%s is a download but SM_THREAT_FEEDS=off turns downloads off: give a file path", tok)
					}
				case strings.Contains(lower, "://"):
					bad[kv.name] = fmt.Sprintf("%s: only file paths and https URLs are allowed", tok)
				}
				*dst[kv.kind] = append(*dst[kv.kind], tok)
			}
		}
		if !useDefaults {
			defaultsOff[kv.kind] = "replaced by " + kv.name
		}
	}
	cfg.Feeds = nil
	for _, f := range DefaultFeeds {
		switch {
		case cfg.NoDownloads:
			f.Disabled = "SM_THREAT_FEEDS=off"
		case defaultsOff[f.Kind] != "":
			f.Disabled = defaultsOff[f.Kind]
		case chosen != nil && !slices.ContainsFunc(chosen, func(tok string) bool { return feedSelected(f, tok) }):
			f.Disabled = "not in SM_THREAT_FEEDS"
		}
		cfg.Feeds = append(cfg.Feeds, f)
	}
}

func feedNames() string {
	var names []string
	for _, f := range DefaultFeeds {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}
