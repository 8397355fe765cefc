package geo

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// Defaults of Config.
const (
	// DefaultRefreshInterval is the download interval of a URL given in a
	// list variable other than SM_TOR_EXITS.
	DefaultRefreshInterval = 6 * time.Hour
	DefaultReloadInterval  = 30 * time.Second
	DefaultCloseGrace      = 30 * time.Second
)

// Config says where the data of a Resolver comes from. Every list field takes
// file paths or https URLs (URLs only for the threat lists).
type Config struct {
	// DBPaths are .mmdb files (City, Country, ASN, ISP, Anonymous-IP, DB-IP
	// Lite, ip-location-db); the layout of each is detected. Earlier files
	// win when two know the same field.
	DBPaths []string
	// ASNCSV are ASN range files: start_ip,end_ip,asn,org (ip-location-db).
	ASNCSV []string
	// TorExits are Tor exit address lists.
	TorExits []string
	// VPNRanges, ProxyRanges, DatacenterRanges and ThreatRanges are CIDR
	// lists. Every list takes any supported format, detected from the
	// content (see parseFeed): plain lines, Tor exit-addresses, AWS, Google
	// Cloud and Oracle JSON, Spamhaus JSON lines, geofeed CSV.
	VPNRanges, ProxyRanges, DatacenterRanges, ThreatRanges []string
	// Feeds are the downloaded default lists (DefaultFeeds as chosen by
	// ConfigFromEnv). The zero Config has none: a library user opts in.
	Feeds []Feed
	// NoDownloads turns every download off (SM_THREAT_FEEDS=off): a URL
	// list is refused; files still load.
	NoDownloads bool
	// CacheDir keeps the last good copy of each downloaded list, beside its
	// ETag and Last-Modified; "" keeps none (a restart then waits for the
	// first download).
	CacheDir string
	// RefreshInterval, when set, is how often every URL list is downloaded
	// (SM_THREAT_REFRESH); 0 uses each feed's own interval (Tor 1h, cloud
	// ranges 24h, lists 6h-12h; URLs of SM_TOR_EXITS 1h, of other
	// variables DefaultRefreshInterval).
	RefreshInterval time.Duration
	// ReloadInterval is how often local files are checked for a change of
	// mtime or size (default 30s).
	ReloadInterval time.Duration
	// CloseGrace is how long a replaced database stays open for lookups
	// that started before the swap (default 30s).
	CloseGrace time.Duration
	// HTTPClient downloads URL lists (default: a client with a 60s timeout).
	HTTPClient *http.Client
	// Logger gets reload and refresh events (default slog.Default()).
	Logger *slog.Logger
	// Clock times the reloads and downloads (default sm.SystemClock).
	Clock sm.Clock
	// NoBuiltin turns off the country and ASN data compiled into the
	// binary (package geo/builtin), the lowest layer under DBPaths and
	// ASNCSV (SM_GEO_BUILTIN=off).
	NoBuiltin bool
}

func (c Config) withDefaults() Config {
	if c.ReloadInterval <= 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = DefaultCloseGrace
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = sm.SystemClock{}
	}
	return c
}

// ConfigFromEnv reads the SM_GEOIP_* and threat list variables described in
// docs/GEO.md, with the default feeds on unless SM_THREAT_FEEDS or a list
// variable says otherwise. getenv is usually os.Getenv. A bad value is an
// sm.Error whose Fields name the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		DBPaths:  splitList(getenv("SM_GEOIP_DB")),
		ASNCSV:   splitList(getenv("SM_ASN_CSV")),
		CacheDir: strings.TrimSpace(getenv("SM_GEOIP_CACHE_DIR")),
	}
	bad := map[string]string{}
	feedsFromEnv(getenv, &cfg, bad)
	if on, ok := ParseOnOff(getenv("SM_GEO_BUILTIN")); !ok {
		bad["SM_GEO_BUILTIN"] = "must be on or off"
	} else {
		cfg.NoBuiltin = !on
	}
	for name, dst := range map[string]*time.Duration{
		"SM_THREAT_REFRESH": &cfg.RefreshInterval,
		"SM_GEOIP_RELOAD":   &cfg.ReloadInterval,
	} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad[name] = "must be a positive duration such as 6h or 30s"
			continue
		}
		*dst = d
	}
	if len(bad) > 0 {
		return Config{}, sm.InvalidFields(bad)
	}
	return cfg, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseOnOff reads a switch: on/true/1 or off/false/0, any case; empty is
// on. ok is false for anything else.
func ParseOnOff(v string) (on, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "on", "true", "1":
		return true, true
	case "off", "false", "0":
		return false, true
	}
	return false, false
}
