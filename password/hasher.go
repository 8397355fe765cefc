package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"runtime"
	"strconv"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"golang.org/x/crypto/argon2"
)

// Hasher implements sessionmanager.PasswordHasher with argon2id. It is safe
// for concurrent use. At most 2*GOMAXPROCS hashes run at once, the rest
// wait: more would add no throughput, only memory (19 MiB each), and a
// login flood would otherwise take the process down.
type Hasher struct {
	params Params
	limits limits
	slots  chan struct{}
}

var _ sm.PasswordHasher = (*Hasher)(nil)

// New returns a Hasher that hashes with p. Zero fields take DefaultParams'
// values; values beyond what Verify accepts are lowered to it (256 MiB,
// 16 passes, 16 lanes, 64-byte salt and key), so every hash it makes verifies.
func New(p Params) *Hasher {
	l := defaultLimits
	p.Memory = orDefault(min(p.Memory, l.maxMemory), DefaultParams.Memory)
	p.Time = orDefault(min(p.Time, l.maxTime), DefaultParams.Time)
	p.Threads = orDefault(min(p.Threads, l.maxThreads), DefaultParams.Threads)
	p.SaltLen = orDefault(min(p.SaltLen, uint32(l.maxSalt)), DefaultParams.SaltLen)
	p.KeyLen = orDefault(min(p.KeyLen, uint32(l.maxKey)), DefaultParams.KeyLen)
	p.Memory = max(p.Memory, 8*uint32(p.Threads))
	p.SaltLen = max(p.SaltLen, uint32(l.minSalt))
	p.KeyLen = max(p.KeyLen, uint32(l.minKey))
	return &Hasher{params: p, limits: l, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

// Default returns a Hasher with DefaultParams.
func Default() *Hasher { return New(DefaultParams) }

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Params { return h.params }

func orDefault[T uint8 | uint32](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Hash returns the PHC string of password under a fresh random salt.
// Passwords longer than MaxBytes are refused (EINVALID): hashing them
// would only serve a denial of service.
func (h *Hasher) Hash(password string) (string, error) {
	if len(password) > MaxBytes {
		return "", tooLong()
	}
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails: crypto/rand aborts the program instead
	return encode(p, salt, h.derive(password, salt, p)), nil
}

// Verify reports whether password matches encoded, comparing in constant
// time. The parameters come from encoded, within limits. A malformed or
// over-limit hash is an EINVALID error; a wrong password is false, nil.
func (h *Hasher) Verify(encoded, password string) (bool, error) {
	p, salt, key, err := h.decode(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxBytes {
		return false, nil // Hash never accepted it, so it cannot match
	}
	got := h.derive(password, salt, p)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// derive runs argon2id in one of h's slots.
func (h *Hasher) derive(password string, salt []byte, p Params) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// NeedsRehash reports whether encoded should be replaced by a new hash at
// the next successful login: it is malformed, or its parameters differ from
// h's.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := h.decode(encoded)
	return err != nil || p != h.params
}

// encode writes the PHC string $argon2id$v=19$m=M,t=T,p=P$salt$hash.
func encode(p Params, salt, key []byte) string {
	var b strings.Builder
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(key))
	return b.String()
}

// b64 is the PHC encoding: standard alphabet, no padding, canonical bits.
var b64 = base64.RawStdEncoding.Strict()

// decode parses a PHC argon2id string and checks it against h's limits.
func (h *Hasher) decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// The base64 decoder skips \r and \n; refuse them so one hash has one form.
	if len(parts) != 6 || strings.ContainsAny(encoded, "\r\n") || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, malformed("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, malformed("unsupported argon2 version")
	}
	m, t, threads, ok := parseCost(parts[3])
	if !ok {
		return p, nil, nil, malformed("bad parameters")
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, malformed("bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, malformed("bad hash")
	}
	p = Params{Memory: m, Time: t, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if !h.limits.allows(p) {
		return p, nil, nil, malformed("parameters out of bounds")
	}
	return p, salt, key, nil
}

// parseCost reads "m=M,t=T,p=P" in that order, as argon2's PHC form writes.
func parseCost(s string) (m, t uint32, p uint8, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, found := strings.CutPrefix(fields[i], name)
		// Digits only, no leading zero: one hash has one spelling.
		if !found || digits == "" || digits[0] == '+' || (digits[0] == '0' && len(digits) > 1) {
			return 0, 0, 0, false
		}
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			return 0, 0, 0, false
		}
		vals[i] = v
	}
	if vals[2] > 255 {
		return 0, 0, 0, false
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), true
}

func malformed(why string) error {
	return sm.Errorf(sm.EINVALID, "malformed password hash: %s", why)
}
