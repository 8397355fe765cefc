package cluster

import (
	"strings"
	"testing"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		in      string
		addr    string
		db      int
		wantErr bool
	}{
		{in: "redis://127.0.0.1:6379/0", addr: "127.0.0.1:6379", db: 0},
		{in: "redis://:s3cret@cache:6380/2", addr: "cache:6380", db: 2},
		{in: "rediss://user:s3cret@cache/1", addr: "cache:6379", db: 1},
		{in: "  redis://localhost  ", addr: "localhost:6379"},
		{in: "", wantErr: true},
		{in: "http://s3cret@cache", wantErr: true},
		{in: "redis://:s3cret@cache/notadb", wantErr: true},
		{in: "redis://:s3cret@ca che:6379/%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			target, err := ParseRedisURL(tt.in)
			if tt.wantErr {
				if sm.ErrorCode(err) != sm.EINVALID {
					t.Fatalf("err = %v, want invalid", err)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				if !strings.Contains(err.Error(), "redis://") {
					t.Fatalf("error should show the expected form: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if target.Mode != RedisSingle {
				t.Fatalf("mode = %s, want single", target.Mode)
			}
			opt := target.Single
			if opt.Addr != tt.addr || opt.DB != tt.db {
				t.Fatalf("got %s db %d", opt.Addr, opt.DB)
			}
		})
	}
}

// TestParseRedisURLModes: the cluster and Sentinel forms give the right
// mode and addresses, and bad URLs get an error naming REDIS_URL that never
// repeats a password.
func TestParseRedisURLModes(t *testing.T) {
	ok := []struct {
		in    string
		mode  RedisMode
		addrs []string
		check func(t *testing.T, r *RedisTarget)
	}{
		{in: "redis://:pa,ss@a:7000,redis://:pa,ss@b:7001, redis://:pa,ss@c", mode: RedisCluster, addrs: []string{"a:7000", "b:7001", "c:6379"},
			check: func(t *testing.T, r *RedisTarget) {
				if r.Cluster.Password != "pa,ss" {
					t.Fatalf("password %q (a comma in it must not split the URL)", r.Cluster.Password)
				}
			}},
		{in: "rediss://u:p@a:7000/0?dial_timeout=3s,rediss://u:p@b:7001", mode: RedisCluster, addrs: []string{"a:7000", "b:7001"},
			check: func(t *testing.T, r *RedisTarget) {
				if r.Cluster.TLSConfig == nil || r.Cluster.Username != "u" || r.Cluster.DialTimeout != 3*time.Second {
					t.Fatalf("options lost: %+v", r.Cluster)
				}
			}},
		{in: "redis://a:7000?addr=b:7001&addr=c:7002", mode: RedisCluster, addrs: []string{"a:7000", "b:7001", "c:7002"}},
		{in: "redis-sentinel://:s3cret@s1:26379,s2,s3:26380/mymaster/2?sentinel_password=sp&dial_timeout=2s", mode: RedisSentinel,
			addrs: []string{"s1:26379", "s2:26379", "s3:26380"},
			check: func(t *testing.T, r *RedisTarget) {
				f := r.Failover
				if f.MasterName != "mymaster" || f.DB != 2 || f.Password != "s3cret" || f.SentinelPassword != "sp" || f.DialTimeout != 2*time.Second || f.TLSConfig != nil {
					t.Fatalf("failover options: %+v", f)
				}
			}},
		{in: "rediss-sentinel://s1/mymaster", mode: RedisSentinel, addrs: []string{"s1:26379"},
			check: func(t *testing.T, r *RedisTarget) {
				if r.Failover.TLSConfig == nil {
					t.Fatal("rediss-sentinel should use TLS")
				}
			}},
		{in: "redis://s1:26379?master_name=mymaster&addr=s2:26379", mode: RedisSentinel, addrs: []string{"s1:26379", "s2:26379"}},
	}
	for _, tt := range ok {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRedisURL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Mode != tt.mode {
				t.Fatalf("mode = %s, want %s", r.Mode, tt.mode)
			}
			var addrs []string
			switch r.Mode {
			case RedisCluster:
				addrs = r.Cluster.Addrs
			case RedisSentinel:
				addrs = r.Failover.SentinelAddrs
			}
			if strings.Join(addrs, " ") != strings.Join(tt.addrs, " ") {
				t.Fatalf("addresses %v, want %v", addrs, tt.addrs)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
	bad := map[string]string{
		"redis://:s3cret@a:7000,redis://:other@b:7001":      "other credentials",
		"redis://:s3cret@a:7000,rediss://:s3cret@b:7001":    "another scheme",
		"redis://:s3cret@a:7000,redis://:s3cret@b:7001?x=1": "options",
		"redis://:s3cret@a:7000/3,redis://:s3cret@b:7001":   "database 0 only",
		"redis://:s3cret@a:7000?addr=b&addr=c:1":            "addr",
		"redis://:s3cret@a:7000?addr=b:1&bogus=1":           "bogus",
		"redis-sentinel://:s3cret@s1:26379":                 "names no master",
		"redis-sentinel://:s3cret@/mymaster":                "no Sentinel address",
		"redis-sentinel://:s3cret@s1/m/0/extra":             "too many path segments",
		"redis-sentinel://:s3cret@s1/m?master_name=x":       "master_name",
		"redis-sentinel://:s3cret@s1/m/notadb":              "database",
		"redis-sentinel://:s3cret@s1/m?bogus=1":             "bogus",
	}
	for in, reason := range bad {
		t.Run(in, func(t *testing.T) {
			_, err := ParseRedisURL(in)
			if sm.ErrorCode(err) != sm.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "REDIS_URL") || !strings.Contains(msg, reason) {
				t.Fatalf("error %q should name REDIS_URL and say %q", msg, reason)
			}
			if strings.Contains(msg, "s3cret") {
				t.Fatalf("error leaks the password: %v", msg)
			}
		})
	}
}
