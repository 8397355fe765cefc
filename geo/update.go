package geo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// DefaultUpdateURL is MaxMind's download endpoint; {edition} is replaced.
const DefaultUpdateURL = "https://download.maxmind.com/geoip/databases/{edition}/download?suffix=tar.gz"

// DefaultEditions are the free editions Update fetches when none are named.
var DefaultEditions = []string{"GeoLite2-City", "GeoLite2-ASN"}

// maxArchiveBytes bounds a download (GeoIP2-City is about 120 MB packed).
const maxArchiveBytes = 1 << 30

// UpdateOptions configures Update (sessionmanager geoip update).
type UpdateOptions struct {
	AccountID  string
	LicenseKey string
	// Editions to fetch, e.g. GeoLite2-City, GeoLite2-ASN, GeoIP2-Anonymous-IP
	// (default DefaultEditions).
	Editions []string
	// Dir receives <edition>.mmdb (created if missing).
	Dir string
	// BaseURL has an {edition} placeholder (default DefaultUpdateURL).
	BaseURL    string
	HTTPClient *http.Client
	// Progress, when it is a terminal, shows a download progress line.
	Progress io.Writer
	// OnResult, when set, is told what happened to each edition.
	OnResult func(UpdateResult)
	Logger   *slog.Logger
}

// UpdateResult is the outcome of one edition.
type UpdateResult struct {
	Edition string
	Path    string
	// Updated is true when a new file was written, false when the stored
	// one was already current.
	Updated bool
	Bytes   int64
}

// Update downloads each edition, extracts its .mmdb, checks that it is a
// valid database and writes it atomically (temp file + rename in Dir). An
// edition is skipped when the server says it is not modified since the
// stored file (If-Modified-Since) or when its content is byte-identical.
// A failed edition leaves its stored file untouched; the others still run.
func Update(ctx context.Context, opts UpdateOptions) error {
	if opts.AccountID == "" || opts.LicenseKey == "" {
		return sm.InvalidFields(map[string]string{"account_id": "required", "license_key": "required"})
	}
	if opts.Dir == "" {
		return sm.InvalidFields(map[string]string{"dir": "required"})
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultUpdateURL
	}
	if len(opts.Editions) == 0 {
		opts.Editions = DefaultEditions
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return sm.Errorf(sm.EINVALID, "geoip update: %v", err)
	}
	var errs []error
	for _, ed := range opts.Editions {
		res, err := updateEdition(ctx, opts, ed)
		if err != nil {
			errs = append(errs, err)
			opts.Logger.Error("geoip update failed", "edition", ed, "err", err)
			continue
		}
		opts.Logger.Info("geoip update", "edition", ed, "updated", res.Updated, "path", res.Path)
		if opts.OnResult != nil {
			opts.OnResult(res)
		}
	}
	return errors.Join(errs...)
}

func updateEdition(ctx context.Context, opts UpdateOptions, edition string) (UpdateResult, error) {
	res := UpdateResult{Edition: edition, Path: filepath.Join(opts.Dir, edition+".mmdb")}
	if edition == "" || strings.ContainsAny(edition, `/\`) || strings.Contains(edition, "..") {
		return res, sm.Errorf(sm.EINVALID, "geoip update: bad edition name %q", edition)
	}
	downloadURL := strings.ReplaceAll(opts.BaseURL, "{edition}", edition)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, downloadURL, nil)
	if err != nil {
		return res, sm.Errorf(sm.EINVALID, "geoip update %s: %s", edition, opts.redact(err))
	}
	req.SetBasicAuth(opts.AccountID, opts.LicenseKey)
	stored, statErr := os.Stat(res.Path)
	if statErr == nil {
		req.Header.Set("If-Modified-Since", stored.ModTime().UTC().Format(http.TimeFormat))
	}
	resp, err := opts.HTTPClient.Do(req)
	if err != nil {
		return res, sm.Errorf(sm.EUNAVAILABLE, "geoip update %s: %s", edition, opts.redact(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && statErr == nil:
		return res, nil
	case resp.StatusCode == http.StatusUnauthorized:
		return res, sm.Errorf(sm.EUNAUTHORIZED, "geoip update %s: MaxMind refused the account id or licence key (HTTP 401)", edition)
	case resp.StatusCode == http.StatusForbidden:
		return res, sm.Errorf(sm.EFORBIDDEN, "geoip update %s: the account may not download this edition (HTTP 403)", edition)
	case resp.StatusCode == http.StatusNotFound:
		return res, sm.Errorf(sm.ENOTFOUND, "geoip update %s: unknown edition (HTTP 404)", edition)
	case resp.StatusCode != http.StatusOK:
		return res, sm.Errorf(sm.EUNAVAILABLE, "geoip update %s: HTTP %s", edition, resp.Status)
	}
	body := newProgressReader(resp.Body, resp.ContentLength, opts.Progress, edition)
	data, err := extractMMDB(io.LimitReader(body, maxArchiveBytes))
	body.done()
	if err != nil {
		return res, sm.Errorf(sm.EINVALID, "geoip update %s: bad archive: %v", edition, err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return res, sm.Errorf(sm.EINVALID, "geoip update %s: downloaded database is invalid: %v", edition, err)
	}
	if statErr == nil && sameContent(res.Path, data) {
		return res, nil
	}
	if err := writeFileAtomic(res.Path, data); err != nil {
		return res, sm.Errorf(sm.EINTERNAL, "geoip update %s: write %s: %v", edition, res.Path, err)
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		// The file's mtime is the server's date, for the next If-Modified-Since.
		_ = os.Chtimes(res.Path, lm, lm)
	}
	res.Updated, res.Bytes = true, int64(len(data))
	return res, nil
}

// redact is the text of a request error for the error Update returns and
// its log: net/http quotes the URL of a failed request, which may carry the
// licence key (a license_key= query), the account's credentials (user
// info) or a presigned download's signature (the URL MaxMind redirects
// to). The URL is shown without them; the licence key nowhere.
func (o UpdateOptions) redact(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = (&url.Error{Op: ue.Op, URL: withoutCredentials(ue.URL), Err: ue.Err}).Error()
	}
	for _, key := range []string{o.LicenseKey, url.QueryEscape(o.LicenseKey), url.PathEscape(o.LicenseKey)} {
		if key != "" {
			msg = strings.ReplaceAll(msg, key, "********")
		}
	}
	return msg
}

// withoutCredentials is raw with no user info, query or fragment: scheme,
// host and path say where a download went.
func withoutCredentials(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "(the download URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// extractMMDB returns the first *.mmdb file of a tar.gz archive.
func extractMMDB(r io.Reader) ([]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no .mmdb file in the archive")
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg && strings.HasSuffix(h.Name, ".mmdb") {
			return io.ReadAll(tr)
		}
	}
}

// sameContent reports whether the file at path holds exactly data.
func sameContent(path string, data []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	want := sha256.Sum256(data)
	return bytes.Equal(h.Sum(nil), want[:])
}
