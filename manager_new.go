package sessionmanager

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// storeActivity writes last-seen notes straight to the store.
type storeActivity struct{ s SessionStore }

func (a storeActivity) WriteLastSeen(ctx context.Context, notes []LastSeen) error {
	return a.s.TouchSessions(ctx, notes)
}

// DefaultRegisterPerIP is how many sign-ups one IP may make per
// failed-login window when Config.RegisterPerIP is left at zero.
const DefaultRegisterPerIP = 30

// New validates cfg, fills its defaults and returns a Manager. Call Run to
// start the background work (last-seen flushes, sweeps, purge, bus).
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.Secrets == nil || cfg.Passwords == nil {
		return nil, errors.New("sessionmanager: Config needs Store, Tokens, Secrets and Passwords")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.AccessTokenTTL, 15*time.Minute)
	def(&cfg.RefreshGrace, 10*time.Second)
	def(&cfg.LastSeenInterval, 30*time.Second)
	def(&cfg.InactivityTimeout, 15*time.Minute)
	def(&cfg.MaxSessionAge, 720*time.Hour)
	def(&cfg.Retention, 720*time.Hour)
	def(&cfg.StateCacheTTL, 2*time.Second)
	def(&cfg.DPoPWindow, DefaultDPoPWindow)
	if cfg.Proofs == nil {
		cfg.Proofs, _ = cfg.Tokens.(ProofParser)
	}
	def(&cfg.AdminSessionTTL, DefaultAdminSessionTTL)
	def(&cfg.AdminIdleTimeout, DefaultAdminIdleTimeout)
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Bus == nil {
		cfg.Bus = NewLocalBus(cfg.Logger)
	}
	if cfg.Activity == nil {
		cfg.Activity = storeActivity{cfg.Store}
	}
	if cfg.Failures == nil {
		cfg.Failures = NewMemoryCounter(cfg.Clock)
	}
	if cfg.Replay == nil {
		cfg.Replay = cfg.Failures
		if _, mem := cfg.Failures.(*MemoryCounter); mem {
			cfg.Replay = newReplayCounter(cfg.Clock, memoryCounterMaxKeys)
		}
	}
	if cfg.Throttle == nil {
		cfg.Throttle = DefaultThrottleLimits.Func()
	}
	if cfg.AdminThrottle == nil {
		cfg.AdminThrottle = AdminThrottleLimits.Func()
	}
	if cfg.ValidatePassword == nil {
		cfg.ValidatePassword = ValidatePassword
	}
	if cfg.ValidateSettings == nil {
		cfg.ValidateSettings = defaultSettingsCheck(cfg.Risk)
	}
	if cfg.RegisterPerIP == 0 {
		cfg.RegisterPerIP = DefaultRegisterPerIP
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = DefaultTOTPIssuer
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = newID()[:12]
	}
	m := &Manager{
		cfg:         cfg,
		store:       cfg.Store,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		bus:         cfg.Bus,
		fails:       cfg.Failures,
		replay:      cfg.Replay,
		proofs:      cfg.Proofs,
		states:      newStateCache(cfg.StateCacheTTL),
		admins:      newAdminCache(cfg.StateCacheTTL, cfg.AdminSessionTTL),
		profiles:    newProfileCache(cfg.StateCacheTTL),
		adminTokens: newAdminTokenCache(cfg.StateCacheTTL),
		seen:        newActivity(cfg.LastSeenInterval),
	}
	if cfg.ChallengeMailer != nil {
		m.factors.add(emailFactor{m})
	}
	if cfg.Passkeys != nil {
		m.factors.add(passkeyFactor{m})
	}
	m.registerTOTPFactors()
	for _, f := range cfg.Factors {
		m.factors.add(f)
	}
	m.signAuditChain()
	m.unsub = m.bus.Subscribe(m.onMessage)
	return m, nil
}

// defaultSettingsCheck is NormalizeSettings followed by the risk engine's
// own checks when it has any.
func defaultSettingsCheck(engine RiskEngine) func(*Settings) map[string]string {
	checker, _ := engine.(SettingsChecker)
	return func(s *Settings) map[string]string {
		bad := NormalizeSettings(s)
		if checker == nil || s == nil {
			return bad
		}
		for field, why := range checker.CheckSettings(s) {
			if bad == nil {
				bad = map[string]string{}
			}
			bad[field] = why
		}
		return bad
	}
}

// Config returns the effective configuration (defaults filled in).
func (m *Manager) Config() Config { return m.cfg }

// Store returns the store the Manager uses.
func (m *Manager) Store() Store { return m.store }

// Now is the Manager's clock.
func (m *Manager) Now() time.Time { return m.clock.Now() }

// onMessage applies a bus message to the local caches.
func (m *Manager) onMessage(msg Message) {
	switch msg.Kind {
	case MsgSessionEnded:
		m.states.markEnded(msg.SessionID, msg.UserID, msg.Reason, m.clock.Now())
		m.seen.forget(msg.SessionID)
		m.protect.forget(msg.SessionID)
	case MsgAdminSessionEnded:
		m.admins.markEnded(msg.SessionID, m.clock.Now())
	case MsgAdminTokenRevoked:
		m.adminTokens.markRevoked(msg.TokenID, m.clock.Now())
	case MsgSessionChanged:
		if msg.Origin != m.cfg.InstanceID {
			m.states.drop(msg.SessionID)
		}
	case MsgSettingsChanged:
		if msg.Origin != m.cfg.InstanceID {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := m.loadSettings(ctx); err != nil {
				m.log.Warn("reload settings after bus message", "err", err)
			}
		}
	}
}

// DropCaches forgets every cached session state, e.g. after the bus
// reconnected and messages may have been lost.
func (m *Manager) DropCaches() {
	m.states.dropAll()
	m.admins.dropAll()
	m.adminTokens.dropAll()
}

// Close stops listening to the bus. Call Flush first to write pending work:
// audit events still not recorded are logged as lost.
func (m *Manager) Close() {
	if m.unsub != nil {
		m.unsub()
	}
	m.dropAudits()
}

func (m *Manager) publish(ctx context.Context, msg Message) {
	msg.Origin = m.cfg.InstanceID
	if msg.At.IsZero() {
		msg.At = m.clock.Now()
	}
	if err := m.bus.Publish(ctx, msg); err != nil {
		// The store is the source of truth and caches expire within
		// StateCacheTTL, so a lost message delays, never defeats, a revocation.
		m.log.Warn("bus publish failed", "kind", msg.Kind, "err", err)
	}
}

// signAuditChain makes the store sign the audit chain's head in every append
// (and keep checkpoints) with the Secrets' chain key, so truncating or
// rewriting the log's end is caught by VerifyAudit. A store or Secrets
// without that ability is told to the admin in the log.
func (m *Manager) signAuditChain() {
	heads, ok := m.store.(ChainHeadStore)
	signer, canSign := m.cfg.Secrets.(ChainSigner)
	if !ok || !canSign {
		m.log.Warn("the audit log has no signed head: deleting its newest events cannot be detected",
			"storeKeepsHead", ok, "secretsSign", canSign)
		return
	}
	c := m.cfg.AuditCheckpoints
	c.Signer = signer
	m.cfg.AuditCheckpoints = c.WithDefaults()
	heads.SignChainWith(m.cfg.AuditCheckpoints)
}
