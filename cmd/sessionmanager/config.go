package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/alert"
	"github.com/magic-sessionmanager/sessionmanager/geo"
	"github.com/magic-sessionmanager/sessionmanager/httpapi"
)

// config is the validated configuration of the service.
type config struct {
	// stopJobsWithin bounds how long shutdown waits for the background
	// jobs (default 10s); not configurable from the environment.
	stopJobsWithin time.Duration

	Env               string // development (default) or production
	DataDir           string
	DatabaseURL       string
	Addr              string
	EncryptionKey     string
	OldEncryptionKeys []string
	RedisURL          string
	TrustedProxies    []netip.Prefix
	Issuer, Audience  string

	AccessTokenTTL    time.Duration
	RefreshGrace      time.Duration
	LastSeenInterval  time.Duration
	InactivityTimeout time.Duration
	IdleTimeout       time.Duration
	// AdminIdleTimeout ends a dashboard sign-in unused this long (0: never);
	// AdminSessionTTL is its absolute lifetime.
	AdminIdleTimeout time.Duration
	AdminSessionTTL  time.Duration
	MaxSessionAge    time.Duration
	Retention        time.Duration

	RefreshCookie string
	LogLevel      string

	// Geo is the geo and threat data configuration (geo.ConfigFromEnv:
	// SM_GEOIP_*, SM_ASN_CSV, SM_THREAT_FEEDS, SM_*_RANGES...).
	Geo geo.Config

	SMTPURL    string
	AlertFrom  string
	LicenseKey string
	// PublicURL is where users reach this service (SM_PUBLIC_URL): the
	// base of the "This wasn't me" links of the emails to users.
	PublicURL string
	// TrustedDeviceTTL is how long a remembered device skips the
	// challenge and new_device (SM_TRUSTED_DEVICE_TTL, default 30 days).
	TrustedDeviceTTL time.Duration
	RedisFailClosed  bool
	// RedisPrefix starts every Redis key and channel (several deployments can share one Redis).
	RedisPrefix string
	// TOTPIssuer names the service in end users' authenticator apps.
	TOTPIssuer string
	// PurgeHour is the UTC hour of the nightly purge of ended sessions.
	PurgeHour int
	// RegisterPerIP caps sign-ups per IP per 15 minutes (0: no cap).
	RegisterPerIP int
	// AuditCheckpointEvery and AuditCheckpointInterval space the signed
	// checkpoints of the audit chain.
	AuditCheckpointEvery    int64
	AuditCheckpointInterval time.Duration
	// TokenCacheSize bounds the verified-access-token cache (entries).
	TokenCacheSize int
	// GCHeadroom is the least heap growth allowed between two garbage
	// collections (SM_GC_HEADROOM_MB, bytes; 0: the Go runtime's GOGC alone).
	GCHeadroom int64
	// GCGrowth is the heap growth between two collections, in percent of
	// the live heap, once that is more than the headroom
	// (SM_GC_GROWTH_PERCENT; Go's own default is 100).
	GCGrowth int
	// SigningKeyRotation is the age at which the leader replaces the
	// access-token signing key (SM_SIGNING_KEY_ROTATION; 0: never).
	SigningKeyRotation time.Duration
	// JWKSMaxAge and SigningKeyLead: the JWKS cache lifetime and the
	// publication lead of a rotated-in key; not in the environment (zero:
	// token's defaults, 5m and 5m + reload interval + grace), tests shorten them.
	JWKSMaxAge, SigningKeyLead time.Duration
	// demo runs `sessionmanager demo`: demo geo data, every feature unlocked.
	demo    bool
	demoGeo sm.GeoResolver
	// clock drives every timeout and loop: sm.SystemClock, or a test's
	// manual clock (never from the environment).
	clock sm.Clock
	// stateCacheTTL is the Manager's StateCacheTTL (0: its default); tests
	// lengthen it to prove a revocation travelled by the bus, not by the
	// cache expiring (never from the environment).
	stateCacheTTL time.Duration
	// AllowPrivateWebhooks lets alert webhooks reach private addresses.
	AllowPrivateWebhooks bool
	// ConditionLimits bound one evaluation of a custom alert condition
	// (SM_CONDITION_TIMEOUT, SM_CONDITION_MEMORY_MB).
	ConditionLimits alert.ConditionLimits
	// MagicLink enables passwordless login (integrations.go); nil when off.
	MagicLink *httpapi.MagicLinkConfig
	// Accounts are the confirmation and reset emails (integrations.go).
	Accounts *httpapi.AccountMailConfig
	// Passkeys is the WebAuthn relying party (passkeys.go).
	Passkeys passkeySetup
	// ChallengeMailer sends the email codes of login challenges
	// (integrations.go); nil without SMTP_URL: no email factor.
	ChallengeMailer sm.ChallengeMailer
}

// configError is a bad configuration value: one clear line, exit code 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// feedClient downloads the threat feeds. SSL_CERT_FILE, the standard
// variable, names the CA certificates to trust (instead of the system's),
// read through getenv like every other setting.
func feedClient(getenv func(string) string) (*http.Client, error) {
	file := strings.TrimSpace(getenv("SSL_CERT_FILE"))
	if file == "" {
		return nil, nil // geo's default client, with the system's roots
	}
	pem, err := os.ReadFile(file)
	pool := x509.NewCertPool()
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		return nil, badVar("SSL_CERT_FILE", "a readable PEM file of trusted CA certificates", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}, nil
}

// fieldsConfigError turns an sm.Error naming invalid variables into one
// line naming the first of them.
func fieldsConfigError(err error) error {
	var e *sm.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return &configError{err.Error()}
	}
	names := slices.Sorted(maps.Keys(e.Fields))
	return &configError{fmt.Sprintf("%s is invalid: %s", names[0], e.Fields[names[0]])}
}

func badVar(name, expected string, got string) error {
	return &configError{fmt.Sprintf("%s=%q is invalid: expected %s", name, got, expected)}
}

// loadConfig reads the environment, then the serve flags (flags win).
func loadConfig(getenv func(string) string, args []string) (*config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &config{
		clock:         sm.SystemClock{},
		Env:           env("SM_ENV", "development"),
		DataDir:       env("SM_DATA_DIR", "./data"),
		Addr:          env("SM_ADDR", "127.0.0.1:8080"),
		EncryptionKey: getenv("SESSION_ENCRYPTION_KEY"),
		RedisURL:      env("REDIS_URL", ""),
		Issuer:        env("SM_ISSUER", "sessionmanager"),
		Audience:      env("SM_AUDIENCE", "sessionmanager"),
		RefreshCookie: env("SM_REFRESH_COOKIE", ""),
		LogLevel:      env("SM_LOG_LEVEL", "info"),
		SMTPURL:       env("SMTP_URL", ""),
		AlertFrom:     env("SM_ALERT_FROM", "Magic Session Manager <alerts@localhost>"),
		LicenseKey:    env("LICENSE_KEY", ""),
		PublicURL:     env("SM_PUBLIC_URL", ""),
		RedisPrefix:   env("SM_REDIS_PREFIX", "msm:"),
		TOTPIssuer:    env("SM_TOTP_ISSUER", sm.DefaultTOTPIssuer),
	}
	c.DatabaseURL = env("DATABASE_URL", "")
	durations := []struct {
		name string
		dst  *time.Duration
		def  string
		off  bool // "off" or "0" allowed
	}{
		{"SM_ACCESS_TOKEN_TTL", &c.AccessTokenTTL, "15m", false},
		{"SM_REFRESH_GRACE", &c.RefreshGrace, "10s", false},
		{"SM_LAST_SEEN_INTERVAL", &c.LastSeenInterval, "30s", false},
		{"SM_INACTIVITY_TIMEOUT", &c.InactivityTimeout, "15m", false},
		{"SM_IDLE_TIMEOUT", &c.IdleTimeout, "off", true},
		{"SM_MAX_SESSION_AGE", &c.MaxSessionAge, "720h", false},
		{"SM_RETENTION", &c.Retention, "720h", false},
		{"SM_AUDIT_CHECKPOINT_INTERVAL", &c.AuditCheckpointInterval, "1h", false},
		{"SM_ADMIN_IDLE_TIMEOUT", &c.AdminIdleTimeout, "30m", true},
		{"SM_ADMIN_SESSION_TTL", &c.AdminSessionTTL, "8h", false},
		{"SM_SIGNING_KEY_ROTATION", &c.SigningKeyRotation, "720h", true},
		{"SM_TRUSTED_DEVICE_TTL", &c.TrustedDeviceTTL, "720h", false},
	}
	for _, d := range durations {
		v := env(d.name, d.def)
		if d.off && (v == "off" || v == "0") {
			*d.dst = 0
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur <= 0 {
			exp := "a positive Go duration like 15m, 30s or 720h"
			if d.off {
				exp += ", or off"
			}
			return nil, badVar(d.name, exp, v)
		}
		*d.dst = dur
	}
	for _, l := range []struct {
		name string
		dst  *[]string
	}{
		{"SM_OLD_ENCRYPTION_KEYS", &c.OldEncryptionKeys},
	} {
		*l.dst = splitComma(getenv(l.name))
	}
	geoCfg, err := geo.ConfigFromEnv(getenv)
	if err != nil {
		return nil, fieldsConfigError(err)
	}
	c.Geo = geoCfg
	if c.Geo.HTTPClient, err = feedClient(getenv); err != nil {
		return nil, err
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, badVar("SM_PUBLIC_URL", "the absolute http(s) URL users reach this service at, e.g. https://auth.example.com", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if v := env("SM_TRUSTED_PROXIES", ""); v != "" {
		p, err := httpapi.ParseTrustedProxies(v)
		if err != nil {
			return nil, badVar("SM_TRUSTED_PROXIES", "a comma-separated list of CIDRs or IP addresses, e.g. 10.0.0.0/8,127.0.0.1", v)
		}
		c.TrustedProxies = p
	}
	if v := env("SM_PURGE_HOUR", "3"); true {
		h, err := strconv.Atoi(v)
		if err != nil || h < 0 || h > 23 {
			return nil, badVar("SM_PURGE_HOUR", "an hour of the day in UTC, 0 to 23", v)
		}
		c.PurgeHour = h
	}
	if v := env("SM_TOKEN_CACHE_SIZE", "262144"); true {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1024 || n > 1<<24 {
			return nil, badVar("SM_TOKEN_CACHE_SIZE", "a whole number of cached access tokens from 1024 to 16777216", v)
		}
		c.TokenCacheSize = n
	}
	if v := env("SM_GC_HEADROOM_MB", "64"); true {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 4096 {
			return nil, badVar("SM_GC_HEADROOM_MB", "a whole number of megabytes from 0 (off) to 4096", v)
		}
		c.GCHeadroom = int64(n) << 20
	}
	if v := env("SM_GC_GROWTH_PERCENT", "35"); true {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 || n > 1000 {
			return nil, badVar("SM_GC_GROWTH_PERCENT", "a whole percentage of the live heap from 10 to 1000 (Go's default: 100)", v)
		}
		c.GCGrowth = n
	}
	if v := env("SM_REGISTER_PER_IP", "30"); true {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badVar("SM_REGISTER_PER_IP", "a whole number of sign-ups per IP per 15 minutes (0: no cap)", v)
		}
		c.RegisterPerIP = n
	}
	if v := env("SM_AUDIT_CHECKPOINT_EVERY", "1000"); true {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, badVar("SM_AUDIT_CHECKPOINT_EVERY", "a whole number of audit events between signed checkpoints (1 or more)", v)
		}
		c.AuditCheckpointEvery = n
	}
	switch v := env("SM_WEBHOOK_ALLOW_PRIVATE", "false"); v {
	case "true", "1":
		c.AllowPrivateWebhooks = true
	case "false", "0":
	default:
		return nil, badVar("SM_WEBHOOK_ALLOW_PRIVATE", "true or false", v)
	}
	if v := env("SM_CONDITION_TIMEOUT", alert.DefaultConditionTimeout.String()); true {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > 10*time.Second {
			return nil, badVar("SM_CONDITION_TIMEOUT", "a duration from 1ms to 10s (e.g. 100ms)", v)
		}
		c.ConditionLimits.Timeout = d
	}
	if v := env("SM_CONDITION_MEMORY_MB", strconv.Itoa(alert.DefaultConditionMemory>>20)); true {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 || n > 4096 {
			return nil, badVar("SM_CONDITION_MEMORY_MB", "a whole number of megabytes from 16 to 4096", v)
		}
		c.ConditionLimits.Memory = int64(n) << 20
	}
	switch v := env("SM_REDIS_FAILURE", "open"); v {
	case "open":
	case "closed":
		c.RedisFailClosed = true
	default:
		return nil, badVar("SM_REDIS_FAILURE", "open or closed", v)
	}

	if len(args) > 0 {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(discard{})
		fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (SM_ADDR)")
		fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "DATABASE_URL")
		fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "SM_DATA_DIR")
		fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "REDIS_URL")
		if err := fs.Parse(args); err != nil {
			return nil, &configError{"serve: " + err.Error() + " (flags: -addr, -database-url, -data-dir, -redis-url)"}
		}
		if fs.NArg() > 0 {
			return nil, &configError{fmt.Sprintf("serve: unexpected argument %q", fs.Arg(0))}
		}
	}
	if c.Geo.CacheDir == "" {
		c.Geo.CacheDir = filepath.Join(c.DataDir, "threat-lists")
	}
	ml, err := loadMagicLink(getenv, c)
	if err != nil {
		return nil, err
	}
	c.MagicLink = ml
	if c.Accounts, err = loadAccountMail(getenv, c); err != nil {
		return nil, err
	}
	if c.Passkeys, err = loadPasskeys(getenv, c.PublicURL); err != nil {
		return nil, err
	}
	if c.ChallengeMailer, err = loadChallengeMail(getenv, c); err != nil {
		return nil, err
	}
	return c, c.validate()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate checks values against each other.
func (c *config) validate() error {
	if c.Env != "development" && c.Env != "production" {
		return badVar("SM_ENV", "development or production", c.Env)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return badVar("SM_ADDR", "host:port, e.g. 127.0.0.1:8080 or :8080", c.Addr)
	}
	if c.DatabaseURL != "" {
		if _, _, err := databaseKind(c.DatabaseURL); err != nil {
			return badVar("DATABASE_URL", "postgres://user@host:5432/db, or sqlite:PATH, or a file path", c.DatabaseURL)
		}
	}
	if c.InactivityTimeout < c.LastSeenInterval {
		return &configError{fmt.Sprintf("SM_INACTIVITY_TIMEOUT (%s) must be at least SM_LAST_SEEN_INTERVAL (%s): activity is only written once per interval", c.InactivityTimeout, c.LastSeenInterval)}
	}
	if c.IdleTimeout > 0 && c.IdleTimeout < c.LastSeenInterval {
		return &configError{fmt.Sprintf("SM_IDLE_TIMEOUT (%s) must be at least SM_LAST_SEEN_INTERVAL (%s)", c.IdleTimeout, c.LastSeenInterval)}
	}
	if c.IdleTimeout > c.MaxSessionAge {
		return &configError{fmt.Sprintf("SM_IDLE_TIMEOUT (%s) must not be longer than SM_MAX_SESSION_AGE (%s)", c.IdleTimeout, c.MaxSessionAge)}
	}
	if c.AccessTokenTTL > c.MaxSessionAge {
		return &configError{fmt.Sprintf("SM_ACCESS_TOKEN_TTL (%s) must not be longer than SM_MAX_SESSION_AGE (%s)", c.AccessTokenTTL, c.MaxSessionAge)}
	}
	if c.AccessTokenTTL < 30*time.Second || c.AccessTokenTTL > 24*time.Hour {
		return &configError{fmt.Sprintf("SM_ACCESS_TOKEN_TTL (%s) must be between 30s and 24h", c.AccessTokenTTL)}
	}
	if c.SigningKeyRotation > 0 && c.SigningKeyRotation < time.Hour {
		return &configError{fmt.Sprintf("SM_SIGNING_KEY_ROTATION (%s) must be at least 1h, or off: every rotation leaves a retired key to publish until its tokens expire", c.SigningKeyRotation)}
	}
	if c.RefreshGrace > time.Minute {
		return &configError{fmt.Sprintf("SM_REFRESH_GRACE (%s) must be at most 1m: a longer window weakens refresh-token reuse detection", c.RefreshGrace)}
	}
	if c.Env == "production" && c.EncryptionKey == "" {
		return &configError{"SESSION_ENCRYPTION_KEY is required when SM_ENV=production: generate one with `sessionmanager keygen`"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return badVar("SM_LOG_LEVEL", "debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// databaseKind tells "postgres" or "sqlite" and the DSN/path to open.
func databaseKind(u string) (kind, dsn string, err error) {
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return "postgres", u, nil
	case strings.HasPrefix(u, "sqlite://"):
		return "sqlite", strings.TrimPrefix(u, "sqlite://"), nil
	case strings.HasPrefix(u, "sqlite:"):
		return "sqlite", strings.TrimPrefix(u, "sqlite:"), nil
	case strings.Contains(u, "://"):
		return "", "", errors.New("unknown scheme")
	case u == "":
		return "", "", errors.New("empty")
	}
	return "sqlite", u, nil
}
