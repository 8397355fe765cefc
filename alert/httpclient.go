package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultHTTPTimeout bounds one HTTP delivery.
const DefaultHTTPTimeout = 10 * time.Second

// DefaultUserAgent is sent with every HTTP delivery.
const DefaultUserAgent = "MagicSessionManager-Alerts/1"

// HTTPConfig configures the Slack, Discord and webhook senders.
type HTTPConfig struct {
	Targets TargetPolicy
	// Timeout of one request (default 10s).
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (tests trust their own CA).
	TLSConfig *tls.Config
	UserAgent string
	// Sealer opens the sealed URLs of Slack and Discord channels.
	Sealer Sealer
}

// httpPoster posts JSON to validated URLs through a client whose dialer
// refuses addresses the policy does not allow.
type httpPoster struct {
	cfg    HTTPConfig
	client *http.Client
}

func newHTTPPoster(cfg HTTPConfig) *httpPoster {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	// The guard runs on every address the dialer tries, after its own DNS
	// resolution (through the policy's resolver), so a rebinding or a
	// translated IPv6 form cannot slip past the check made at save time.
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: cfg.Targets.dialControl, Resolver: cfg.Targets.Resolver}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the real target from the dial guard
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg.TLSConfig,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &httpPoster{cfg: cfg, client: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect could lead to an internal address: never follow one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post sends body to url with headers and classifies the answer: 2xx is
// delivered, 410 Gone and a refused target are permanent, anything else
// is retried (honouring Retry-After on 429 and 503).
//
// Its errors never repeat the URL: a Slack or Discord webhook URL is the
// channel's secret, and the error is stored as the delivery's LastError
// (read scope, dashboard), logged, and answered to a test alert.
func (p *httpPoster) post(ctx context.Context, url string, body []byte, headers map[string]string) error {
	if msg := p.cfg.Targets.CheckURL(ctx, url); msg != "" {
		err := fmt.Errorf("target refused: %s", msg)
		if msg == msgNoResolve {
			return err
		}
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(redactURLError(err, url))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		err = redactURLError(err, url)
		if errors.Is(err, errBlockedAddr) {
			return Permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, scrubURL(strings.TrimSpace(string(snippet)), url))
	switch resp.StatusCode {
	case http.StatusGone:
		return Permanent(err)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if s, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && s > 0 {
			return &retryAfterError{err: err, after: time.Duration(s) * time.Second}
		}
	}
	return err
}

// redactURLError rebuilds the *url.Error of net/http (a parse or a send
// error), whose text quotes the whole URL, with the URL masked as the rule
// answers show it (scheme://host/********). Its cause (a refused dial, a
// timeout) names no more than the host and stays, as do Timeout and
// errors.Is on it.
func redactURLError(err error, rawURL string) error {
	var ue *neturl.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &neturl.Error{Op: ue.Op, URL: maskURL(strings.TrimSpace(rawURL)), Err: ue.Err}
}

// minSecretSegment is the length from which a path segment of a channel
// URL is taken for a secret (Slack's and Discord's tokens are 24 and 68
// characters; "services" and "webhooks" are 8).
const minSecretSegment = 12

// scrubURL masks in text (a receiver's answer, which may echo the request
// path as many 404 pages do) the URL's path and query and every long
// segment of its path.
func scrubURL(text, rawURL string) string {
	u, err := neturl.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return maskedSecret // nothing safe can be said of it
	}
	// Longest first, so a part is masked whole before its pieces.
	for _, part := range []string{rawURL, u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery} {
		if len(part) > 1 {
			text = strings.ReplaceAll(text, part, maskedSecret)
		}
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		clear, _ := neturl.PathUnescape(seg)
		for _, part := range []string{seg, clear} {
			if len(part) >= minSecretSegment {
				text = strings.ReplaceAll(text, part, maskedSecret)
			}
		}
	}
	return text
}
