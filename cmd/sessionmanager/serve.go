package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/device"
	"github.com/magic-sessionmanager/sessionmanager/geo"
	"github.com/magic-sessionmanager/sessionmanager/httpapi"
	"github.com/magic-sessionmanager/sessionmanager/license"
	"github.com/magic-sessionmanager/sessionmanager/passkey"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/risk"
	"github.com/magic-sessionmanager/sessionmanager/token"
	"github.com/magic-sessionmanager/sessionmanager/web"
)

// app is the wired service: what serve runs and tests inspect.
type app struct {
	cfg     *config
	log     *slog.Logger
	store   fullStore
	kind    string
	secrets *token.Secrets
	keyring *token.Keyring
	// rotator replaces the signing key (on schedule, on the leader).
	rotator *token.Rotator
	manager *sm.Manager
	geo     *geo.Resolver
	// resolver is what lookups go through: the geo package, or the demo's.
	resolver sm.GeoResolver
	cluster  *clusterParts
	alerts   *alertParts
	license  *license.State
	handler  http.Handler
	// background sends the emails promised in responses; shutdown drains it.
	background *httpapi.Background
	// reloads asks reloadLoop to reload what other instances may have
	// changed with the settings (coalesced: one pending at most).
	reloads chan struct{}
	closers []func()
	runners []func(ctx context.Context)
}

// build wires every part of the service from the configuration.
func build(ctx context.Context, c *config, log *slog.Logger) (*app, error) {
	a := &app{cfg: c, log: log, reloads: make(chan struct{}, 1), background: httpapi.NewBackground(log)}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key, old, err := encryptionKeys(c, log)
	if err != nil {
		return nil, err
	}
	if a.secrets, err = token.NewSecrets(key, old...); err != nil {
		return nil, err
	}
	if a.store, a.kind, err = openStore(ctx, c); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = a.store.Close() })
	if v, ok := a.store.(interface {
		Autovacuum(context.Context) (bool, error)
	}); ok {
		if on, err := v.Autovacuum(ctx); err == nil && !on {
			log.Warn("PostgreSQL's autovacuum is off: the counter tables behind the dashboard's statistics keep every dead row and stale planner statistics, so Stats slows as sessions change; turn autovacuum on (PostgreSQL's default) or run VACUUM ANALYZE on a schedule (docs/SCALE.md)")
		}
	}
	clock := c.clock
	if a.keyring, err = token.NewKeyring(ctx, a.store, a.secrets, keyringConfig(c, clock.Now)); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if a.cluster, err = buildCluster(ctx, c, a.store, log); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.cluster.close)
	// The demo answers from its own made-up world; everything else opens
	// the configured data and the default feeds, which Run downloads in
	// the background (never on the login path, never holding start-up).
	if !c.demo {
		gcfg := c.Geo
		gcfg.Logger, gcfg.Clock = log, clock
		a.geo, err = geo.Open(ctx, gcfg)
		if err != nil {
			return nil, &configError{"geo data: " + err.Error()}
		}
		a.closers = append(a.closers, func() { a.geo.Close() })
		// Every instance holds its own tables and its own copy of the
		// feeds under its data dir, so every instance reloads and
		// downloads them (not only a leader; docs/GEO.md says why).
		a.runners = append(a.runners, func(ctx context.Context) { _ = a.geo.Run(ctx) })
	}
	if a.license, err = license.New(license.Options{Key: c.LicenseKey, Store: a.store, Logger: log, Demo: c.demo}); err != nil {
		return nil, &configError{"LICENSE_KEY is invalid: " + err.Error()}
	}
	if _, err := a.license.Load(ctx); err != nil {
		return nil, fmt.Errorf("licence: %w", err)
	}
	a.runners = append(a.runners, a.license.Run)
	gauges := &storeGauges{store: a.store, log: log, clock: clock}
	a.runners = append(a.runners, gauges.run)
	metrics := httpapi.NewMetrics(gauges.active.load, gauges.outbox.load)
	if a.alerts, err = buildAlerts(ctx, c, a.store, a.secrets, a.license.Allows, log); err != nil {
		return nil, err
	}
	mcfg := sm.Config{
		Store: a.store, Tokens: a.keyring, Secrets: a.secrets, Passwords: password.Default(),
		UserAgents: device.New(), Risk: risk.New(), Bus: a.cluster.bus, Activity: a.cluster.activity,
		Failures: a.cluster.counter, Replay: a.cluster.replay, Clock: clock, Logger: log, Metrics: metrics,
		Alerter: a.alerts.engine, KickOutbox: a.alerts.worker.Kick,
		// Throttling and the password policy are the Manager's defaults
		// (the failure counts are shared through Failures when Redis is on).
		ValidateSettings: confirmationSettings(c.Accounts, risk.NormalizeSettings),
		Allows:           a.license.Allows,
		Unlocks:          func(f string) string { return string(license.Unlocks(f)) },
		AlertRules:       a.alerts.admin,
		License:          a.license, // the core audits and announces a new key
		PurgeHour:        &c.PurgeHour,
		TOTPIssuer:       c.TOTPIssuer,
		TrustedDeviceTTL: c.TrustedDeviceTTL,
		ChallengeMailer:  c.ChallengeMailer,
		RegisterPerIP:    registerCap(c.RegisterPerIP),
		AuditCheckpoints: sm.ChainSigning{CheckpointEvery: c.AuditCheckpointEvery, CheckpointInterval: c.AuditCheckpointInterval},
		AccessTokenTTL:   c.AccessTokenTTL, RefreshGrace: c.RefreshGrace, LastSeenInterval: c.LastSeenInterval,
		InactivityTimeout: c.InactivityTimeout, IdleTimeout: c.IdleTimeout, MaxSessionAge: c.MaxSessionAge, Retention: c.Retention,
		InstanceID: a.cluster.instance, Leader: a.cluster.leader,
		AdminSessionTTL: c.AdminSessionTTL, AdminIdleTimeout: offIsNegative(c.AdminIdleTimeout),
		OnSettings: func(s *sm.Settings) {
			a.alerts.engine.SetNewSignInEmail(s.NewSignInEmail)
			if s.RequireEmailConfirmation && (c.Accounts == nil || c.Accounts.ConfirmURL == "") {
				log.Warn("requireEmailConfirmation is on but no confirmation email is configured (SM_EMAIL_CONFIRMATION_URL, SMTP_URL): new password accounts cannot sign in until they use a magic link or a password reset")
			}
			// Alert rules are a settings document too: another instance may
			// have changed them (reloadLoop).
			select {
			case a.reloads <- struct{}{}:
			default: // one is pending; it reads the newest
			}
		},
	}
	a.runners = append(a.runners, a.reloadLoop)
	if c.Passkeys.Config != nil {
		if mcfg.Passkeys, err = passkey.New(*c.Passkeys.Config); err != nil {
			return nil, &configError{err.Error()}
		}
		log.Info("passkeys on", "rpId", c.Passkeys.Config.RPID, "origins", c.Passkeys.Config.Origins)
	} else if c.Passkeys.Off != "" {
		log.Warn(c.Passkeys.Off)
		mcfg.SetupWarnings = append(mcfg.SetupWarnings, sm.SetupWarning{Needs: sm.FeatureChallenge, ConfigWarning: sm.ConfigWarning{
			Code: sm.WarnPasskeysOff, Message: c.Passkeys.Off, Variables: []string{"SM_PUBLIC_URL", "SM_WEBAUTHN_RP_ID", "SM_WEBAUTHN_ORIGINS"}}})
	}
	if c.SMTPURL != "" && c.PublicURL == "" {
		mcfg.SetupWarnings = append(mcfg.SetupWarnings, sm.SetupWarning{ConfigWarning: sm.ConfigWarning{
			Code: sm.WarnReportLinkOff, Variables: []string{"SM_PUBLIC_URL"},
			Message: "SM_PUBLIC_URL is not set: new-sign-in emails carry no \"This wasn't me\" link (it needs the address users reach this service at)"}})
		// Admin invitations go out (SMTP) with links built from the host
		// and scheme of the inviting owner's request: a proxy that rewrites
		// Host, or TLS ended in front of a plain listener, gives links that
		// do not lead back here.
		mcfg.SetupWarnings = append(mcfg.SetupWarnings, sm.SetupWarning{ConfigWarning: sm.ConfigWarning{
			Code: sm.WarnInviteLinkHost, Variables: []string{"SM_PUBLIC_URL"},
			Message: "SM_PUBLIC_URL is not set: admin invitation links use the host and scheme of the inviting owner's request, which may not be the address the invited admin can reach"}})
	}
	mcfg.SharedStatus = a.cluster.status
	mcfg.StateCacheTTL = c.stateCacheTTL
	if a.cluster.healthy != nil {
		whenDown := sm.Degraded
		if c.RedisFailClosed {
			whenDown = sm.Unavailable
		}
		mcfg.Availability = func() sm.Availability {
			if a.cluster.healthy() {
				return sm.Available
			}
			return whenDown
		}
	}
	if a.geo != nil {
		a.resolver = a.geo
	}
	if c.demoGeo != nil {
		a.resolver = c.demoGeo
	}
	mcfg.Geo = a.resolver
	if c.SMTPURL != "" {
		// The team's invitations go through the same SMTP server as the
		// alerts, from the alerts' sender.
		invites, err := httpapi.NewSMTPMailer(c.SMTPURL, c.AlertFrom)
		if err != nil {
			return nil, &configError{"admin invitations: " + sm.ErrorMessage(err)}
		}
		mcfg.AdminInvites = invites
	}
	if a.manager, err = sm.New(mcfg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.manager.Close)
	a.runners = append(a.runners, a.keyJobs()...)
	a.cluster.onReconnect(a.manager.DropCaches)
	deps := httpapi.Deps{
		Manager: a.manager, Core: a.manager.AdminCore(), JWKS: a.keyring.ServeJWKS(),
		TrustedProxies: c.TrustedProxies, Logger: log, Metrics: metrics, Ready: a.store.Ping,
		RefreshCookie: c.RefreshCookie, Cookies: sm.CookiePolicy{Production: c.Env == "production"}, VerifyEmailHeader: true, Version: version,
		PublicURL: c.PublicURL,
		// Integrations: magic links, introspection (integrations.go).
		MagicLinks: c.MagicLink, Issuer: c.Issuer, Audience: c.Audience, Accounts: c.Accounts,
		Background: a.background,
	}
	deps.Geo = a.resolver
	a.alerts.announce = a.manager.AnnounceSettingsChange
	deps.Alerts = a.manager.AlertRules()
	deps.Admin, err = web.New(web.Deps{
		Core: a.manager.AdminCore(), Secrets: a.secrets, UserAgents: mcfg.UserAgents, Bus: a.cluster.bus,
		Alerts: a.manager.AlertRules(), License: a.webLicense, Demo: c.demo, Logger: log,
		ClientIP:  func(r *http.Request) netip.Addr { return httpapi.ClientIP(r, c.TrustedProxies) },
		Cookies:   sm.CookiePolicy{Production: c.Env == "production"},
		PublicURL: c.PublicURL, InitialPasswordFile: initialPasswordFile(c.DataDir),
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	a.handler = httpapi.NewServer(deps)
	// A feature that is on but has no data to work with is said at start
	// (and on the dashboard, GET /api/admin/geo/status and /metrics).
	for _, w := range a.manager.ConfigWarnings(ctx) {
		attrs := []any{"code", w.Code}
		if len(w.Variables) > 0 {
			attrs = append(attrs, "fix", strings.Join(w.Variables, ", "))
		}
		if w.Setting != "" {
			attrs = append(attrs, "setting", w.Setting)
		}
		log.Warn("configuration: "+w.Message, attrs...)
	}
	ok = true
	return a, nil
}

// reloadLoop reloads the alert rules and the licence after each settings
// (re)load, one at a time, until ctx ends.
func (a *app) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.reloads:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := a.alerts.rules.Reload(rctx); err != nil {
			a.log.Warn("reload alert rules", "err", err)
		}
		if _, err := a.license.Load(rctx); err != nil {
			a.log.Warn("reload licence", "err", err)
		}
		cancel()
	}
}

// offIsNegative maps a configured "off" (0) to the Manager's "never" (<0).
func offIsNegative(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// initialPasswordFile is where the first start writes the first admin's
// password when SM_ADMIN_PASSWORD is not set; "" without a data directory.
func initialPasswordFile(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, "initial-admin-password")
}

// ensureAdmin creates the first admin account on first start.
func (a *app) ensureAdmin(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	n, err := a.store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	email := getenv("SM_ADMIN_EMAIL")
	if email == "" {
		email = "admin@localhost"
	}
	pw := getenv("SM_ADMIN_PASSWORD")
	file := ""
	if pw == "" {
		pw = randomPassword()
		file = initialPasswordFile(a.cfg.DataDir)
		if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
	}
	if _, err := createAdmin(ctx, a.store, email, pw); err != nil {
		// Instances started together on a new database race to create the
		// first admin: the loser's password was never stored, so its file
		// goes and it starts with the winner's account.
		if sm.ErrorCode(err) == sm.ECONFLICT {
			if n, cerr := a.store.CountAdmins(ctx); cerr == nil && n > 0 {
				if file != "" {
					_ = os.Remove(file)
				}
				return nil
			}
		}
		return err
	}
	where := "the password in SM_ADMIN_PASSWORD"
	if file != "" {
		where = "the password in " + file + " (delete that file once you have signed in)"
	}
	fmt.Fprintf(stdout, "\nFirst start: created the admin account %s.\nSign in at http://%s/admin/ as %s with %s.\n\n", email, a.cfg.Addr, email, where)
	return nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return serveWith(ctx, args, getenv, stdout, stderr, nil, nil)
}

// serveWith runs the service; configure adjusts the configuration and
// started runs in the background once the service listens (the demo).
func serveWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
	configure func(*config), started func(context.Context, *app)) error {
	c, err := loadConfig(getenv, args)
	if err != nil {
		return err
	}
	if configure != nil {
		configure(c)
	}
	log := newLogger(stderr, c.LogLevel)
	a, err := build(ctx, c, log)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.ensureAdmin(ctx, getenv, stdout); err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	streams, stopStreams := context.WithCancel(context.Background())
	defer stopStreams()
	srv := &http.Server{
		Handler:           endStreamsOnShutdown(streams, a.handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      0, // SSE streams; handlers bound their own work
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 64)
	jobs := append([]func(context.Context){
		func(ctx context.Context) { _ = a.manager.Run(ctx) },
		a.alerts.run,
	}, a.runners...)
	jobs = append(jobs, a.cluster.runners...)
	switch {
	case (c.GCHeadroom > 0 || c.GCGrowth != 100) && getenv("GOGC") == "":
		jobs = append(jobs, func(ctx context.Context) { runGCHeadroom(ctx, c.GCHeadroom, c.GCGrowth, log) })
	case c.GCHeadroom > 0 || c.GCGrowth != 100:
		log.Info("GOGC is set: SM_GC_HEADROOM_MB and SM_GC_GROWTH_PERCENT are not applied", "gogc", getenv("GOGC"))
	}
	if started != nil {
		jobs = append(jobs, func(ctx context.Context) { started(ctx, a) })
	}
	for _, job := range jobs {
		go func() { job(bg); done <- struct{}{} }()
	}
	log.Info("serving", "addr", ln.Addr().String(), "store", a.kind, "redis", c.RedisURL != "", "version", version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		stopBG()
		awaitJobs(log, done, len(jobs), c.stopJobsWithin)
		return err
	}
	log.Info("shutting down")
	srv.RegisterOnShutdown(stopStreams) // event streams end; requests in flight finish
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing the remaining connections", "err", err)
		_ = srv.Close()
	}
	// Emails promised in responses are sent (or given up) before the jobs
	// stop, with time of their own.
	mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer mcancel()
	if err := a.background.Shutdown(mctx); err != nil {
		log.Warn("shutdown: emails still being sent were cancelled", "err", err)
	}
	stopBG()
	awaitJobs(log, done, len(jobs), c.stopJobsWithin)
	// Pending last-seen notes reach the store before the process ends, with
	// time of their own (the shutdown may have used all of sctx).
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	if err := a.manager.Flush(fctx); err != nil {
		log.Error("final last-seen flush failed", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// webLicense is the licence as the dashboard shows it.
func (a *app) webLicense() web.LicenseInfo {
	info := a.license.Info()
	return web.LicenseInfo{Edition: license.Edition(info.Edition).Title(), Licensee: info.Licensee, Expires: info.ExpiresAt,
		Status: info.Notice, Valid: info.Status == license.StatusActive}
}

// endStreamsOnShutdown ends server-sent event streams (dashboard, revocation
// feed) when streams is cancelled, so a graceful shutdown does not wait on
// connections that never go idle.
func endStreamsOnShutdown(streams context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(streams, cancel)()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// awaitJobs waits for n background jobs to report on done after their
// context was cancelled, at most within (default 10s): a job that ignores
// its context must not hold the process past its shutdown deadline. One
// still running is logged and left behind (the process is ending).
func awaitJobs(log *slog.Logger, done <-chan struct{}, n int, within time.Duration) {
	if within <= 0 {
		within = 10 * time.Second
	}
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for left := n; left > 0; left-- {
		select {
		case <-done:
		case <-timeout.C:
			log.Error("shutdown: background jobs did not stop in time; exiting without them", "still_running", left, "waited", within.String())
			return
		}
	}
}

// registerCap turns SM_REGISTER_PER_IP (0: no cap) into the Manager's
// RegisterPerIP (0: the default cap, negative: none).
func registerCap(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
