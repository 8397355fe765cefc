package client

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerify is the per-request cost of local verification with a
// warm key cache (signature check, claims, revocation lookup).
func BenchmarkVerify(b *testing.B) {
	ks := newKeyServer(b)
	priv := ks.add("k1")
	c, _ := New(Config{BaseURL: ks.srv.URL})
	tok := sign(b, priv, good("k1"))
	ctx := context.Background()
	if _, err := c.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyUncached is the cost of a token's first verification:
// parse, EdDSA signature, claims.
func BenchmarkVerifyUncached(b *testing.B) {
	ks := newKeyServer(b)
	priv := ks.add("k1")
	c, _ := New(Config{BaseURL: ks.srv.URL})
	tok := sign(b, priv, good("k1"))
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.verify(ctx, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
