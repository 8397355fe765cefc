// Command embedded is a Go application with its own users that embeds
// Magic Session Manager as a library: its sessions get the same device,
// risk and audit tracking as the server's, and an admin can force-log a
// user out everywhere at once.
//
//	EXAMPLE_ADMIN_SECRET=change-me go run ./examples/embedded
//	curl -s localhost:8090/login -d '{"username":"ada","password":"lovelace"}'
//	curl -s localhost:8090/me -H "Authorization: Bearer $JWT"
//	curl -s -X POST localhost:8090/admin/users/ada/logout -H "X-Admin-Secret: change-me"
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/password"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

// appUsers is the application's own user table (a map, for the example).
var appUsers = map[string]string{"ada": "lovelace", "alan": "turing"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// 32 bytes of key material seal refresh tokens and signing keys. Keep it
	// stable in production (hex in EXAMPLE_KEY); a random one is fine here.
	key := make([]byte, 32)
	if k := os.Getenv("EXAMPLE_KEY"); k != "" {
		var err error
		if key, err = hex.DecodeString(k); err != nil {
			return err
		}
	} else if _, err := rand.Read(key); err != nil {
		return err
	}
	secrets, err := token.NewSecrets(key)
	if err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, "embedded-example.db")
	if err != nil {
		return err
	}
	defer store.Close()
	keyring, err := token.NewKeyring(ctx, store, secrets, token.Config{Issuer: "embedded-example", Audience: "embedded-example"})
	if err != nil {
		return err
	}
	// Nothing else to set: the Manager throttles sign-ins, validates
	// settings and applies the password policy by default.
	m, err := sm.New(sm.Config{Store: store, Tokens: keyring, Secrets: secrets, Passwords: password.Default()})
	if err != nil {
		return err
	}
	defer m.Close()
	ran := make(chan struct{})
	go func() { defer close(ran); _ = m.Run(ctx) }() // last-seen flushes, sweeps, purge

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", handleLogin(m))
	mux.HandleFunc("POST /refresh", handleRefresh(m))
	mux.Handle("GET /me", m.Middleware(http.HandlerFunc(handleMe)))
	mux.Handle("POST /logout", m.Middleware(handleLogout(m)))
	mux.HandleFunc("POST /admin/users/{username}/logout", handleForceLogout(m, os.Getenv("EXAMPLE_ADMIN_SECRET")))

	srv := &http.Server{Addr: "127.0.0.1:8090", Handler: mux}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-ran
		_ = m.Flush(sctx) // last-seen notes and audit events still unwritten
	}()
	log.Printf("embedded example on http://%s", srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	<-stopped
	return nil
}

func clientInfo(r *http.Request) sm.ClientInfo {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip, _ := netip.ParseAddr(host)
	return sm.ClientInfo{IP: ip, UserAgent: r.UserAgent()}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// handleLogin checks the app's own password, then lets the Manager start
// a tracked session for that user (created in the session store on first
// sight, keyed by the app's user id).
func handleLogin(m *sm.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			sm.WriteError(w, sm.Errorf(sm.EINVALID, "a JSON body {username, password} is required"))
			return
		}
		// Counted before the password is checked, so guessing is slowed and
		// then refused (429) like the Manager's own Login.
		try, err := m.ReserveSignIn(r.Context(), in.Username, clientInfo(r).IP)
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		want, ok := appUsers[in.Username]
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(in.Password)) != 1 {
			sm.WriteError(w, sm.Errorf(sm.EUNAUTHORIZED, "invalid username or password"))
			return
		}
		try.Succeeded(r.Context())
		res, err := m.StartExternalSession(r.Context(), sm.ExternalIdentity{ExternalID: in.Username, Username: in.Username}, clientInfo(r))
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		writeJSON(w, map[string]any{"jwt": res.AccessToken, "refreshToken": res.RefreshToken, "sessionId": res.Session.ID})
	}
}

func handleRefresh(m *sm.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct{ RefreshToken string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		res, err := m.Refresh(r.Context(), in.RefreshToken, clientInfo(r))
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		writeJSON(w, map[string]any{"jwt": res.AccessToken, "refreshToken": res.RefreshToken})
	}
}

func handleMe(w http.ResponseWriter, r *http.Request) {
	p, _ := sm.PrincipalFrom(r.Context())
	writeJSON(w, map[string]any{"userId": p.UserID, "sessionId": p.SessionID})
}

func handleLogout(m *sm.Manager) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := sm.PrincipalFrom(r.Context())
		if err := m.EndSession(r.Context(), p.SessionID, sm.EndLogout, sm.Actor{Type: sm.ActorUser, ID: p.UserID}); err != nil {
			sm.WriteError(w, err)
			return
		}
		writeJSON(w, map[string]any{"ok": true})
	}
}

// handleForceLogout ends every session of an app user: their access and
// refresh tokens stop working on the next request.
func handleForceLogout(m *sm.Manager, secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(r.Header.Get("X-Admin-Secret"))) != 1 {
			sm.WriteError(w, sm.Errorf(sm.EFORBIDDEN, "admin secret required"))
			return
		}
		u, err := m.Store().UserByExternalID(r.Context(), r.PathValue("username"))
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		n, err := m.EndUserSessions(r.Context(), u.ID, sm.EndManual, sm.Actor{Type: sm.ActorAdmin, ID: "example-admin"}, "")
		if err != nil {
			sm.WriteError(w, err)
			return
		}
		writeJSON(w, map[string]any{"ended": n})
	}
}
