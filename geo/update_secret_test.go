package geo

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestUpdateErrorsHoldNoCredentials: whatever URL the download goes to (a
// licence key in its query, credentials in it, a presigned redirect) and
// however it fails (refused connection, a URL net/http will not parse),
// neither the licence key, the account's basic-auth credentials nor a
// presigned signature is in the returned error or the log.
func TestUpdateErrorsHoldNoCredentials(t *testing.T) {
	const key, account, signature = "LicKey_0123456789abcdef", "acct-771", "presigned-sig-abcdef0123"
	addr := testenv.FreeAddr(t) // nothing listens there: refused
	closed := "http://" + addr
	// MaxMind answers with a redirect to a presigned download URL.
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, closed+"/db.tar.gz?X-Amz-Signature="+signature, http.StatusFound)
	}))
	defer redirect.Close()
	for name, base := range map[string]string{
		"key in the query":       closed + "/app/geoip_download?edition_id={edition}&license_key=" + key,
		"credentials in the URL": "http://" + account + ":" + key + "@" + addr + "/{edition}",
		"unparsable URL":         closed + "/{edition}?license_key=" + key + "\n",
		"presigned redirect":     redirect.URL + "/geoip/databases/{edition}/download",
	} {
		var logs bytes.Buffer
		err := Update(context.Background(), UpdateOptions{AccountID: account, LicenseKey: key, Editions: []string{"GeoLite2-ASN"},
			Dir: t.TempDir(), BaseURL: base, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !strings.Contains(logs.String(), "geoip update failed") {
			t.Fatalf("%s: the failure is not logged: %s", name, logs.String())
		}
		for _, secret := range []string{key, account, signature} {
			for where, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: %q is in the %s: %s", name, secret, where, text)
				}
			}
		}
		if !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("%s: the error no longer says where: %v", name, err)
		}
	}
}
