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

// openResolver opens cfg without the built-in data, so a test sees only
// the sources it configures (builtin_test.go covers the layering).
func openResolver(t testing.TB, cfg Config) *Resolver {
	t.Helper()
	cfg.NoBuiltin = true
	return openBuiltin(t, cfg)
}

// openBuiltin opens cfg as given (the built-in data unless cfg turns it off).
func openBuiltin(t testing.TB, cfg Config) *Resolver {
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

// source is the GeoStatus entry of origin (a path or URL), or fails.
func source(t testing.TB, r *Resolver, origin string) sm.GeoSource {
	t.Helper()
	for _, s := range r.GeoStatus().Sources {
		if s.Origin == origin {
			return s
		}
	}
	t.Fatalf("no status for %s in %+v", origin, r.GeoStatus().Sources)
	return sm.GeoSource{}
}

// configured drops the built-in sources (listed even when off) from a
// status, leaving the files, lists and feeds a test configured.
func configured(st sm.GeoStatus) []sm.GeoSource {
	var out []sm.GeoSource
	for _, s := range st.Sources {
		if s.Origin != "builtin" {
			out = append(out, s)
		}
	}
	return out
}
