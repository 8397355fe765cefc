// Package browsertest starts Debian's headless Chromium for end-to-end
// tests (through chromedp) and waits on page conditions.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// ChromiumPath is Debian's chromium package.
const ChromiumPath = "/usr/bin/chromium"

// Chrome starts headless Chromium at 1440x900 for the test, accepting every
// confirm() the page asks. Without Chromium the test skips, or fails when
// services are required.
func Chrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if testenv.Required() {
			t.Fatalf("%s is missing and services are required: apt-get install -y chromium", ChromiumPath)
		}
		t.Skipf("%s is missing: skipping the browser test (apt-get install -y chromium)", ChromiumPath)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1440, 900))
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// Until polls a JavaScript predicate until it is true or d passes: a
// functional wait, not a timing assertion. A navigation in between ends a
// poll; it is retried until the deadline.
func Until(ctx context.Context, expr string, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return fmt.Errorf("%s: not true after %v", expr, d)
		}
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(left)))
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
