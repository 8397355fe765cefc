package sessionmanager

// SharedStatus is what the instances share to work together (the bus and,
// with Redis, counters and leadership), as /readyz and the dashboard show it.
type SharedStatus struct {
	// Bus carries revocations between instances: "local" (one instance),
	// "postgres" (LISTEN/NOTIFY) or "redis".
	Bus string `json:"bus"`
	// RedisMode is how Redis is reached: "single", "cluster" or "sentinel";
	// empty without Redis.
	RedisMode string `json:"redisMode,omitempty"`
	// Healthy reports whether the shared link answers now (always true for
	// the local bus).
	Healthy bool `json:"healthy"`
	// LastError is the link's last failure, for admins only (never in a
	// public answer).
	LastError string `json:"-"`
}

// SharedStatus returns the state of the shared link: Config.SharedStatus,
// or the local bus when the service runs alone.
func (m *Manager) SharedStatus() SharedStatus {
	if m.cfg.SharedStatus == nil {
		return SharedStatus{Bus: "local", Healthy: true}
	}
	return m.cfg.SharedStatus()
}
