package web

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func urlValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func fmtSscan(s string, v ...any) (int, error) { return fmt.Sscan(s, v...) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
