package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/store/postgres"
	"github.com/magic-sessionmanager/sessionmanager/store/sqlite"
	"github.com/magic-sessionmanager/sessionmanager/token"
)

func generateKey() string { return token.GenerateKey() }

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// fullStore is every store role the service wires: the Manager's Store and
// the optional roles (outbox, keys, admins, dashboard sessions, magic links,
// stats, erasure). Both stores implement it; nothing outside cmd needs it whole.
type fullStore interface {
	sm.Store
	sm.OutboxStore
	sm.KeyStore
	sm.AdminStore
	sm.AdminSessionStore
	sm.MagicLinkStore
	sm.StatsStore
	sm.PrivacyStore
}

// openStore opens the configured store (SQLite under the data dir by
// default) and applies the migrations.
func openStore(ctx context.Context, c *config) (fullStore, string, error) {
	url := c.DatabaseURL
	if url == "" {
		url = "sqlite:" + filepath.Join(c.DataDir, "sessionmanager.db")
	}
	kind, dsn, err := databaseKind(url)
	if err != nil {
		return nil, "", err
	}
	switch kind {
	case "postgres":
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, kind, fmt.Errorf("open PostgreSQL: %w", err)
		}
		return st, kind, nil
	default:
		st, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, kind, fmt.Errorf("open SQLite %s: %w", dsn, err)
		}
		return st, kind, nil
	}
}

// devKeyFile keeps the development encryption key.
const devKeyFile = "encryption.key"

// encryptionKeys returns the primary key and the old ones. Without
// SESSION_ENCRYPTION_KEY it uses (or makes) a development key in the data
// dir, loudly; in production it refuses.
func encryptionKeys(c *config, log *slog.Logger) ([]byte, [][]byte, error) {
	var old [][]byte
	for i, s := range c.OldEncryptionKeys {
		k, err := token.ParseKey(s)
		if err != nil {
			return nil, nil, badVar("SM_OLD_ENCRYPTION_KEYS", "a comma-separated list of base64 32-byte keys", fmt.Sprintf("(key %d)", i+1))
		}
		old = append(old, k)
	}
	if c.EncryptionKey != "" {
		k, err := token.ParseKey(c.EncryptionKey)
		if err != nil {
			return nil, nil, &configError{"SESSION_ENCRYPTION_KEY is invalid: expected the base64 encoding of 32 random bytes (generate one with `sessionmanager keygen`)"}
		}
		return k, old, nil
	}
	if c.Env == "production" {
		return nil, nil, &configError{"SESSION_ENCRYPTION_KEY is required when SM_ENV=production: generate one with `sessionmanager keygen`"}
	}
	path := filepath.Join(c.DataDir, devKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, nil, err
		}
		b = []byte(token.GenerateKey() + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	k, err := token.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a valid key: %w", path, err)
	}
	log.Warn("USING A DEVELOPMENT ENCRYPTION KEY: set SESSION_ENCRYPTION_KEY for production (sessionmanager keygen); the key kept in the data dir protects nothing if the disk leaks",
		"keyFile", path)
	return k, old, nil
}

// randomPassword makes an initial admin password.
func randomPassword() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
