package browsertest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The axe-core release the accessibility check runs, and its npm
// integrity (sha512 of the tarball, as the registry publishes it): a
// tarball that does not match is refused.
const (
	axeVersion   = "4.14.1"
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// cacheDir is $SM_CACHE_DIR or ~/.cache/sessionmanager: downloads live
// outside the repository and are re-used by every run.
func cacheDir() (string, error) {
	if d := os.Getenv("SM_CACHE_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "sessionmanager"), nil
}

// axeScript returns axe.min.js of axeVersion: from the cache
// (<cache>/axe/<version>/axe.min.js), else fetched once with `npm pack`
// (npm's own cache in <cache>/npm), checked against axeIntegrity and
// unpacked there. Never from a CDN, never committed.
func axeScript() (string, error) {
	axeOnce.Do(func() { axeSource, axeErr = loadAxe() })
	return axeSource, axeErr
}

func loadAxe() (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "axe", axeVersion)
	file := filepath.Join(dir, "axe.min.js")
	if b, err := os.ReadFile(file); err == nil {
		return string(b), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("npm", "pack", "axe-core@"+axeVersion, "--cache", filepath.Join(cache, "npm"),
		"--prefer-offline", "--pack-destination", dir, "--loglevel=error")
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack axe-core@%s: %v\n%s", axeVersion, err, stderr.String())
	}
	tgz := filepath.Join(dir, "axe-core-"+axeVersion+".tgz")
	raw, err := os.ReadFile(tgz)
	if err != nil {
		return "", err
	}
	sum := sha512.Sum512(raw)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeIntegrity {
		return "", fmt.Errorf("axe-core %s tarball integrity %s, want %s", axeVersion, got, axeIntegrity)
	}
	js, err := untarFile(raw, "package/axe.min.js")
	if err != nil {
		return "", err
	}
	// Written under a temporary name then renamed: a parallel test
	// binary never reads half a file.
	tmp := file + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := os.WriteFile(tmp, js, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, file); err != nil {
		return "", err
	}
	_ = os.Remove(tgz)
	return string(js), nil
}

func untarFile(tgz []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not in the tarball", name)
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(tr)
		}
	}
}

// AxeViolation is one failed axe rule on a page.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// Axe injects axe-core into the current page (through the DevTools
// protocol, which the page's CSP does not govern) and returns its
// violations of every impact.
func Axe(ctx context.Context) ([]AxeViolation, error) {
	src, err := axeScript()
	if err != nil {
		return nil, err
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;void 0")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe.run: %w", err)
	}
	var v []AxeViolation
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Serious returns the violations of serious or critical impact, one line
// each with the elements and why.
func Serious(vs []AxeViolation) []string {
	var out []string
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var nodes []string
		for i, n := range v.Nodes {
			if i == 5 {
				nodes = append(nodes, fmt.Sprintf("... %d more", len(v.Nodes)-5))
				break
			}
			nodes = append(nodes, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.FailureSummary, "\n", " ")))
		}
		out = append(out, fmt.Sprintf("%s (%s) %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(nodes, "\n      ")))
	}
	return out
}

// ArtifactsDir is $SM_ARTIFACTS_DIR/<sub> (../artifacts/<sub> from the e2e
// module when unset), created.
func ArtifactsDir(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("SM_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The sizes and colour schemes CheckPage checks and photographs.
var checkViews = []struct {
	suffix string
	w, h   int64
	scheme string
}{
	{"desktop", 1440, 900, "light"},
	{"desktop-dark", 1440, 900, "dark"},
	{"phone", 390, 844, "light"},
	{"phone-dark", 390, 844, "dark"},
}

// CheckPage checks the page the browser shows now, as it is (no reload, so
// a filled form or an opened panel stays), at 1440x900 and 390x844, in the
// light and the dark colour scheme (emulated prefers-color-scheme): axe-core
// runs in each and the test fails on any serious or critical violation,
// listed with its elements; a full-page screenshot of each is saved as
// $SM_ARTIFACTS_DIR/screenshots/<name>-{desktop,desktop-dark,phone,phone-dark}.png.
// The browser is left at 1440x900 in the light scheme.
func CheckPage(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := ArtifactsDir(t, "screenshots")
	defer func() {
		_, _ = chromedp.Run(ctx, chromedp.EmulateViewport(1440, 900))
		_, _ = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
	}()
	for _, v := range checkViews {
		if _, err := chromedp.Run(ctx, chromedp.EmulateViewport(v.w, v.h)); err != nil {
			t.Fatalf("%s: viewport %dx%d: %v", name, v.w, v.h, err)
		}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}}}); err != nil {
			t.Fatalf("%s: colour scheme %s: %v", name, v.scheme, err)
		}
		// Layout and images settle (a functional wait: two frames after the
		// change, every image loaded).
		_ = Until(ctx, `document.readyState === "complete" && Array.from(document.images).every(i => i.complete)`, 5*time.Second)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vs, err := Axe(ctx)
		if err != nil {
			t.Fatalf("%s (%s): accessibility check: %v", name, v.suffix, err)
		}
		if bad := Serious(vs); len(bad) > 0 {
			t.Errorf("%s (%s): %d serious or critical accessibility violations:\n  %s", name, v.suffix, len(bad), strings.Join(bad, "\n  "))
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s (%s): screenshot: %v", name, v.suffix, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
