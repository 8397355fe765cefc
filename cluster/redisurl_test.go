package cluster

import (
	"strings"
	"testing"

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
