package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAxeFindsViolations proves the check can fail: a local page with an
// unnamed button, an image without alt text and grey-on-grey text has
// serious or critical violations; the same page fixed has none, and
// CheckPage saves its four screenshots.
func TestAxeFindsViolations(t *testing.T) {
	pages := map[string]string{
		"/bad": `<!doctype html><html lang="en"><head><title>bad</title></head><body><main>
<button></button><img src="/pixel.png"><p style="color:#999;background:#aaa">faint text</p></main></body></html>`,
		"/good": `<!doctype html><html lang="en"><head><title>good</title></head><body><main><h1>Fine</h1>
<button>Save</button><img src="/pixel.png" alt="a pixel"><p style="color:#111;background:#fff">clear text</p></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pixel.png" {
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(pixelPNG)
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	ctx := Chrome(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad"), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	vs, err := Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Serious(vs), "\n")
	for _, rule := range []string{"button-name", "image-alt", "color-contrast"} {
		if !strings.Contains(got, rule) {
			t.Errorf("axe did not report %s on the bad page (scripts are blocked by CSP): %s", rule, got)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good"), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SM_ARTIFACTS_DIR", t.TempDir())
	CheckPage(t, ctx, "harness-good")
	for _, suffix := range []string{"desktop", "desktop-dark", "phone", "phone-dark"} {
		b, err := os.ReadFile(filepath.Join(os.Getenv("SM_ARTIFACTS_DIR"), "screenshots", "harness-good-"+suffix+".png"))
		if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Errorf("screenshot %s: %v (%d bytes)", suffix, err, len(b))
		}
	}
}

// pixelPNG is a 1x1 PNG.
var pixelPNG = []byte{0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
	0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xff, 0xff, 0x3f, 0x00, 0x05, 0xfe, 0x02, 0xfe, 0xa7, 0x35, 0x81,
	0x84, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82}
