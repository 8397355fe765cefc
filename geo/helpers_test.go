package geo

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

var (
	buildDB = geotest.BuildDB
	writeDB = geotest.WriteDB
	names   = geotest.Names
	cityRec = geotest.CityRec
	asnRec  = geotest.ASNRec
	flatRec = geotest.FlatRec
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func lookup(t testing.TB, r *Resolver, ip string) sm.GeoResult {
	t.Helper()
	res, err := r.Lookup(context.Background(), netip.MustParseAddr(ip))
	if err != nil {
		t.Fatalf("lookup %s: %v", ip, err)
	}
	return res
}
