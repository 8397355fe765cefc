package cluster

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// RedisMode is how REDIS_URL reaches Redis.
type RedisMode string

// Redis modes, as /readyz and the dashboard show them.
const (
	RedisSingle   RedisMode = "single"
	RedisCluster  RedisMode = "cluster"
	RedisSentinel RedisMode = "sentinel"
)

const redisURLForm = "expected redis://[user:password@]host[:port][/db] (rediss:// for TLS); " +
	"a Redis Cluster as comma-separated redis:// seed URLs or redis://host:port?addr=host2:port2&addr=...; " +
	"Sentinel as redis-sentinel://[user:password@]sentinel1:26379,sentinel2:26379/mastername[/db] (see docs/CLUSTER.md)"

// RedisTarget is a parsed REDIS_URL: one of Single, Cluster or Failover is
// set, as Mode says.
type RedisTarget struct {
	Mode     RedisMode
	Single   *redis.Options
	Cluster  *redis.ClusterOptions
	Failover *redis.FailoverOptions
}

// NewClient returns a client of the target: a *redis.Client (single, or
// Sentinel's failover client) or a *redis.ClusterClient.
func (t *RedisTarget) NewClient() redis.UniversalClient {
	switch t.Mode {
	case RedisCluster:
		return redis.NewClusterClient(t.Cluster)
	case RedisSentinel:
		return redis.NewFailoverClient(t.Failover)
	default:
		return redis.NewClient(t.Single)
	}
}

// seedSplit finds the commas that start another seed URL, so a comma inside
// a password does not split the URL.
var seedSplit = regexp.MustCompile(`,\s*(rediss?://)`)

// ParseRedisURL parses REDIS_URL: a single Redis, a Redis Cluster (several
// comma-separated seed URLs, or go-redis's cluster form with addr=
// parameters) or Sentinel (redis-sentinel://, or go-redis's failover form
// with master_name=). Its errors name the variable and never repeat the URL,
// which may hold a password.
func ParseRedisURL(s string) (*RedisTarget, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, redisURLError("is empty", "")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok && (scheme == "redis-sentinel" || scheme == "rediss-sentinel") {
		return parseSentinelURL(s, scheme == "rediss-sentinel")
	}
	seeds := splitSeeds(s)
	first, err := url.Parse(seeds[0])
	if err != nil {
		// url errors quote the whole URL, password included: say less.
		return nil, redisURLError("is not a valid URL", "")
	}
	q := first.Query()
	switch {
	case len(seeds) > 1:
		return parseClusterSeeds(seeds)
	case q.Has("master_name"):
		opt, err := redis.ParseFailoverURL(s)
		if err != nil {
			return nil, redisURLError("is not a valid Sentinel URL", err)
		}
		return sentinelTarget(opt)
	case q.Has("addr"):
		opt, err := redis.ParseClusterURL(s)
		if err != nil {
			return nil, redisURLError("is not a valid cluster URL", err)
		}
		return clusterTarget(opt)
	}
	opt, err := redis.ParseURL(s)
	if err != nil {
		return nil, redisURLError("is invalid", err)
	}
	return &RedisTarget{Mode: RedisSingle, Single: opt}, nil
}

func splitSeeds(s string) []string {
	var seeds []string
	start := 0
	for _, m := range seedSplit.FindAllStringSubmatchIndex(s, -1) {
		seeds = append(seeds, strings.TrimSpace(s[start:m[0]]))
		start = m[2]
	}
	return append(seeds, strings.TrimSpace(s[start:]))
}

// parseClusterSeeds turns "redis://a:7000,redis://b:7001" into go-redis's
// cluster form: the first URL carries the credentials and options, the
// others add their address and must agree on scheme and credentials.
func parseClusterSeeds(seeds []string) (*RedisTarget, error) {
	first, err := url.Parse(seeds[0])
	if err != nil {
		return nil, redisURLError("seed 1 is not a valid URL", "")
	}
	q := first.Query()
	for i, seed := range seeds[1:] {
		n := strconv.Itoa(i + 2)
		u, err := url.Parse(seed)
		if err != nil || u.Host == "" {
			return nil, redisURLError("seed "+n+" is not a valid URL", "")
		}
		if u.Scheme != first.Scheme {
			return nil, redisURLError("seed "+n+" has another scheme than the first (all redis:// or all rediss://)", "")
		}
		if u.User.String() != first.User.String() {
			return nil, redisURLError("seed "+n+" has other credentials than the first (give them once, or the same on every seed)", "")
		}
		if u.RawQuery != "" {
			return nil, redisURLError("seed "+n+" has options: put them on the first URL only", "")
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, redisURLError("seed "+n+" names a database: a Redis Cluster has database 0 only", "")
		}
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "6379"
		}
		q.Add("addr", net.JoinHostPort(host, port))
	}
	if p := strings.Trim(first.Path, "/"); p != "" && p != "0" {
		return nil, redisURLError("seed 1 names a database: a Redis Cluster has database 0 only", "")
	}
	first.Path = ""
	first.RawQuery = q.Encode()
	opt, err := redis.ParseClusterURL(first.String())
	if err != nil {
		return nil, redisURLError("is not a valid cluster URL", err)
	}
	return clusterTarget(opt)
}

func clusterTarget(opt *redis.ClusterOptions) (*RedisTarget, error) {
	return &RedisTarget{Mode: RedisCluster, Cluster: opt}, nil
}

// parseSentinelURL reads
// redis-sentinel://[user:password@]host:26379,host2:26379/mastername[/db][?options]:
// the credentials are the Redis servers'; sentinel_username and
// sentinel_password are the Sentinels' own when they require auth. Other
// options are go-redis's failover options (dial_timeout=3s, ...).
func parseSentinelURL(s string, tls bool) (*RedisTarget, error) {
	rest := s[strings.Index(s, "://")+3:]
	auth, hostsPath := "", rest
	if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.ContainsAny(rest[:at], "/?") {
		auth, hostsPath = rest[:at], rest[at+1:]
	}
	hosts, pathQuery, _ := strings.Cut(hostsPath, "/")
	path, rawQuery, _ := strings.Cut(pathQuery, "?")
	if hosts == "" {
		return nil, redisURLError("names no Sentinel address", "")
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if segs[0] == "" {
		return nil, redisURLError("names no master (redis-sentinel://host:26379/mastername)", "")
	}
	if len(segs) > 2 {
		return nil, redisURLError("has too many path segments (expected /mastername[/db])", "")
	}
	master, err := url.PathUnescape(segs[0])
	if err != nil {
		return nil, redisURLError("has an invalid master name", "")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, redisURLError("has invalid options", "")
	}
	var addrs []string
	for h := range strings.SplitSeq(hosts, ",") {
		h = strings.TrimSpace(h)
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "26379")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, redisURLError("has an invalid Sentinel address", "")
		}
		addrs = append(addrs, h)
	}
	// go-redis's failover URL: the first Sentinel is the host, the others
	// addr=, the Sentinels' credentials in the userinfo, the servers' in
	// username= and password=.
	g := url.URL{Scheme: "redis", Host: addrs[0]}
	if tls {
		g.Scheme = "rediss"
	}
	if su, sp := q.Get("sentinel_username"), q.Get("sentinel_password"); su != "" || sp != "" {
		g.User = url.UserPassword(su, sp)
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, k := range []string{"master_name", "addr", "username", "password"} {
		if q.Has(k) {
			return nil, redisURLError("sets "+k+" as an option: it belongs in the URL itself", "")
		}
	}
	if auth != "" {
		ui, err := url.Parse("redis://" + auth + "@h")
		if err != nil {
			return nil, redisURLError("has invalid credentials", "")
		}
		if u := ui.User.Username(); u != "" {
			q.Set("username", u)
		}
		if p, ok := ui.User.Password(); ok {
			q.Set("password", p)
		}
	}
	if len(segs) == 2 {
		g.Path = "/" + segs[1]
	}
	q.Set("master_name", master)
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	g.RawQuery = q.Encode()
	opt, err := redis.ParseFailoverURL(g.String())
	if err != nil {
		return nil, redisURLError("is not a valid Sentinel URL", err)
	}
	return sentinelTarget(opt)
}

func sentinelTarget(opt *redis.FailoverOptions) (*RedisTarget, error) {
	if opt.MasterName == "" {
		return nil, redisURLError("names no master", "")
	}
	return &RedisTarget{Mode: RedisSentinel, Failover: opt}, nil
}

// redisURLError says what is wrong with REDIS_URL and what form is
// expected; cause is go-redis's reason (never the URL itself).
func redisURLError(what string, cause any) error {
	reason := ""
	if err, ok := cause.(error); ok && err != nil {
		reason = " (" + strings.TrimPrefix(err.Error(), "redis: ") + ")"
	}
	return sm.Errorf(sm.EINVALID, "REDIS_URL %s%s: %s", what, reason, redisURLForm)
}

// ResolveCluster turns a single-server target that points at a node of a
// Redis Cluster (cluster_enabled:1, as a managed cluster's one
// configuration endpoint does) into a cluster target seeded with it, so one
// URL is enough. Any other target, or a server that does not answer, is
// returned as it is (the caller's own connection check reports that).
func ResolveCluster(ctx context.Context, t *RedisTarget) *RedisTarget {
	if t.Mode != RedisSingle {
		return t
	}
	c := redis.NewClient(t.Single)
	defer c.Close()
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil || !strings.Contains(info, "cluster_enabled:1") {
		return t
	}
	o := t.Single
	return &RedisTarget{Mode: RedisCluster, Cluster: &redis.ClusterOptions{
		Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
		ClientName: o.ClientName, Protocol: o.Protocol, MaxRetries: o.MaxRetries,
		MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		PoolSize: o.PoolSize, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
		PoolTimeout: o.PoolTimeout, ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
	}}
}
