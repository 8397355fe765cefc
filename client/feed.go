package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
)

// feedIdle is how long the feed may stay silent before the client
// reconnects: the server sends a heartbeat every 15s.
const feedIdle = 45 * time.Second

// revokedEvent is the data of a feed event.
type revokedEvent struct {
	SessionID string       `json:"sid"`
	UserID    string       `json:"sub"`
	Reason    sm.EndReason `json:"reason"`
}

// Run follows the server's revocation feed until ctx ends, reconnecting
// with backoff and resuming after the last event seen (Last-Event-ID), so
// no revocation is missed across reconnects. It needs a ServiceToken.
func (c *Client) Run(ctx context.Context) error {
	if c.cfg.ServiceToken == "" {
		return errors.New("client: Run needs a ServiceToken (an admin API token of scope service)")
	}
	backoff := 500 * time.Millisecond
	for {
		started := time.Now()
		err := c.follow(ctx)
		c.setLive(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(started) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		c.cfg.Logger.Warn("revocation feed disconnected; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// follow reads one connection of the feed.
func (c *Client) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/api/auth/revocations", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.ServiceToken)
	req.Header.Set("Accept", "text/event-stream")
	c.mu.RLock()
	if c.cursor > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(c.cursor, 10))
	}
	c.mu.RUnlock()
	// The stream lives long: keep the transport, drop the client timeout.
	httpc := *c.cfg.HTTPClient
	httpc.Timeout = 0
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation feed: status %d", resp.StatusCode)
	}
	c.setLive(true)
	// A silent connection (a dead peer, a proxy holding it) is dropped.
	watchdog := time.AfterFunc(feedIdle, cancel)
	defer watchdog.Stop()
	rd := bufio.NewReaderSize(resp.Body, 16<<10)
	var id, event, data string
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		watchdog.Reset(feedIdle)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if event == "revoked" && data != "" {
				c.apply(id, data)
			}
			id, event, data = "", "", ""
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			if data != "" {
				data += "\n"
			}
			data += value
		}
	}
}

// apply records one revocation and moves the cursor.
func (c *Client) apply(id, data string) {
	var ev revokedEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.SessionID == "" {
		return
	}
	seq, _ := strconv.ParseInt(id, 10, 64)
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revoked[ev.SessionID] = revocation{reason: ev.Reason, until: now.Add(c.cfg.RevocationTTL)}
	if seq > c.cursor {
		c.cursor = seq
	}
	// Forget revocations older than any access token could be.
	if len(c.revoked)%256 == 0 {
		for sid, r := range c.revoked {
			if now.After(r.until) {
				delete(c.revoked, sid)
			}
		}
	}
}

func (c *Client) setLive(v bool) {
	c.mu.Lock()
	c.live = v
	c.mu.Unlock()
}
