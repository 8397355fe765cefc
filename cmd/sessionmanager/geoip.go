package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/magic-sessionmanager/sessionmanager/geo"
)

// geoipCmd runs `sessionmanager geoip update`: downloads MaxMind editions
// with an account id and licence key (MAXMIND_ACCOUNT_ID, MAXMIND_LICENSE_KEY).
func geoipCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "update" {
		return &configError{"geoip: expected `geoip update`"}
	}
	fs := flag.NewFlagSet("geoip update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	account := fs.String("account-id", getenv("MAXMIND_ACCOUNT_ID"), "MaxMind account id (MAXMIND_ACCOUNT_ID)")
	key := fs.String("license-key", getenv("MAXMIND_LICENSE_KEY"), "MaxMind licence key (MAXMIND_LICENSE_KEY)")
	editions := fs.String("editions", strings.Join(geo.DefaultEditions, ","), "comma-separated editions")
	dataDir := getenv("SM_DATA_DIR")
	if dataDir == "" {
		dataDir = "./data"
	}
	dir := fs.String("dir", filepath.Join(dataDir, "geoip"), "where the .mmdb files go")
	baseURL := fs.String("url", "", "download URL with an {edition} placeholder (default: MaxMind's)")
	if err := fs.Parse(args[1:]); err != nil {
		return &configError{err.Error()}
	}
	if *account == "" || *key == "" {
		return &configError{"geoip update: --account-id and --license-key (or MAXMIND_ACCOUNT_ID and MAXMIND_LICENSE_KEY) are required"}
	}
	return geo.Update(ctx, geo.UpdateOptions{
		AccountID: *account, LicenseKey: *key, Editions: splitComma(*editions), Dir: *dir, BaseURL: *baseURL, Progress: stderr,
		OnResult: func(r geo.UpdateResult) {
			state := "unchanged"
			if r.Updated {
				state = fmt.Sprintf("updated (%d bytes)", r.Bytes)
			}
			fmt.Fprintf(stdout, "%s: %s %s\n", r.Edition, r.Path, state)
		},
	})
}
