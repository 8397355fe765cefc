// Command service is a backend that verifies Magic Session Manager access
// tokens locally with package client (JWKS, no call per request) and
// follows the revocation feed, so a force logout reaches it at once.
//
//	MSM_URL=http://127.0.0.1:8080 MSM_SERVICE_TOKEN=msm_... go run ./examples/service
//	curl -s localhost:8091/hello -H "Authorization: Bearer $JWT"
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/magic-sessionmanager/sessionmanager/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := client.New(client.Config{
		BaseURL:      os.Getenv("MSM_URL"),
		ServiceToken: os.Getenv("MSM_SERVICE_TOKEN"), // sessionmanager admin create-token --scope service
		Issuer:       os.Getenv("MSM_ISSUER"),        // empty: the server's default
		Audience:     os.Getenv("MSM_AUDIENCE"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		if err := c.Run(ctx); err != nil && ctx.Err() == nil {
			log.Printf("revocation feed stopped: %v", err)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("GET /hello", c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := client.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "hello %s (session %s)\n", claims.Subject, claims.SessionID)
	})))
	srv := &http.Server{Addr: "127.0.0.1:8091", Handler: mux}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // requests in flight finish
	}()
	log.Printf("service example on http://%s", srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	<-stopped
	<-fed
}
