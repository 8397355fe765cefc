package password

// Params are the argon2id cost parameters.
type Params struct {
	// Memory is in KiB.
	Memory  uint32
	Time    uint32
	Threads uint8
	// SaltLen and KeyLen are in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams follow the OWASP Password Storage Cheat Sheet's first
// argon2id option: 19 MiB, 2 passes, 1 lane; 16-byte salt, 32-byte hash.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// limits bound what a hash may ask for. A hash comes from the store, which
// an attacker with write access could fill with m=4194304 (4 GiB) to take a
// server down; such hashes are refused rather than computed.
type limits struct {
	maxMemory  uint32 // KiB
	maxTime    uint32
	maxThreads uint8
	minSalt    int
	maxSalt    int
	minKey     int
	maxKey     int
}

// defaultLimits allow up to 256 MiB and 16 passes: far above any sane
// configuration, far below what would exhaust a server.
var defaultLimits = limits{
	maxMemory:  256 * 1024,
	maxTime:    16,
	maxThreads: 16,
	minSalt:    8,
	maxSalt:    64,
	minKey:     16,
	maxKey:     64,
}

// allows reports whether p is within l (and valid for argon2id: at least one
// pass and lane, at least 8 KiB of memory per lane).
func (l limits) allows(p Params) bool {
	return p.Time >= 1 && p.Time <= l.maxTime &&
		p.Threads >= 1 && p.Threads <= l.maxThreads &&
		p.Memory >= 8*uint32(p.Threads) && p.Memory <= l.maxMemory &&
		int(p.SaltLen) >= l.minSalt && int(p.SaltLen) <= l.maxSalt &&
		int(p.KeyLen) >= l.minKey && int(p.KeyLen) <= l.maxKey
}
