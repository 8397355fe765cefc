package cluster

import (
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

const redisURLForm = "expected redis://[user:password@]host[:port][/db] or rediss:// for TLS"

// ParseRedisURL parses REDIS_URL into client options. Its errors never
// repeat the URL, which may hold a password.
func ParseRedisURL(s string) (*redis.Options, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, sm.Errorf(sm.EINVALID, "REDIS_URL is empty: %s", redisURLForm)
	}
	if _, err := url.Parse(s); err != nil {
		// url errors quote the whole URL, password included: say less.
		return nil, sm.Errorf(sm.EINVALID, "REDIS_URL is not a valid URL: %s", redisURLForm)
	}
	opt, err := redis.ParseURL(s)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		return nil, sm.Errorf(sm.EINVALID, "REDIS_URL is invalid (%s): %s", msg, redisURLForm)
	}
	return opt, nil
}
