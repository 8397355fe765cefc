package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	sm "github.com/magic-sessionmanager/sessionmanager"
	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestDeadlockIsRetryable: a real deadlock between two transactions (each
// holds a row the other wants) reaches a client as 503 "try again", not as
// an internal error: PostgreSQL rolled the loser back, nothing was decided.
func TestDeadlockIsRetryable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE pair (id int PRIMARY KEY); INSERT INTO pair VALUES (1), (2)`); err != nil {
		t.Fatal(err)
	}
	locked, both := make(chan struct{}, 2), make(chan struct{})
	errs := make(chan error, 2)
	for _, order := range [][2]int{{1, 2}, {2, 1}} {
		go func() {
			errs <- pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SELECT id FROM pair WHERE id = $1 FOR UPDATE`, order[0]); err != nil {
					return err
				}
				locked <- struct{}{}
				<-both // each holds its first row before either asks for the second
				_, err := tx.Exec(ctx, `SELECT id FROM pair WHERE id = $1 FOR UPDATE`, order[1])
				return err
			})
		}()
	}
	<-locked
	<-locked
	close(both)
	var deadlock error
	for range 2 {
		if err := <-errs; err != nil {
			deadlock = err
		}
	}
	if deadlock == nil {
		t.Fatal("the two transactions did not deadlock")
	}
	mapped := mapErr(deadlock, "pair")
	var de *sm.Error
	if !errors.As(mapped, &de) || de.Code != sm.EUNAVAILABLE || de.RetryAfterSeconds < 1 {
		t.Fatalf("deadlock mapped to %v, want EUNAVAILABLE with a retry", mapped)
	}
}
