package httpapi

import (
	"context"
	"errors"
	"testing"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// TestBackgroundShutdownWaitsForJobs: a job running when Shutdown starts
// finishes before Shutdown returns, and Go refuses jobs from then on.
func TestBackgroundShutdownWaitsForJobs(t *testing.T) {
	b := NewBackground(nil)
	release, finished := make(chan struct{}), make(chan struct{})
	if !b.Go(context.Background(), func(ctx context.Context) {
		<-release
		close(finished)
	}) {
		t.Fatal("Go refused a job before Shutdown")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- b.Shutdown(context.Background()) }()
	testenv.Eventually(t, "Shutdown to refuse new jobs", func() bool {
		return !b.Go(context.Background(), func(context.Context) {}) // accepted ones end at once
	})
	select {
	case <-stopped:
		t.Fatal("Shutdown returned while a job was still running")
	default:
	}
	close(release)
	if err := testenv.Recv(t, stopped, "Shutdown to return"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Shutdown returned before the job finished")
	}
}

// TestBackgroundShutdownDeadlineCancelsJobs: when Shutdown's context ends
// first, the jobs' contexts are cancelled and Shutdown still waits for
// them to return.
func TestBackgroundShutdownDeadlineCancelsJobs(t *testing.T) {
	b := NewBackground(nil)
	returned := make(chan struct{})
	b.Go(context.Background(), func(ctx context.Context) {
		<-ctx.Done()
		close(returned)
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- b.Shutdown(ctx) }()
	cancel()
	if err := testenv.Recv(t, stopped, "Shutdown to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want its context's error", err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Shutdown returned before the cancelled job did")
	}
}

// TestBackgroundJobOutlivesItsRequest: a job keeps the request's values but
// not its cancellation (the response is sent before the email).
func TestBackgroundJobOutlivesItsRequest(t *testing.T) {
	b := NewBackground(nil)
	type key struct{}
	req, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	cancel()
	got := make(chan string, 1)
	b.Go(req, func(ctx context.Context) {
		v, _ := ctx.Value(key{}).(string)
		if ctx.Err() != nil {
			v = "cancelled"
		}
		got <- v
	})
	if v := testenv.Recv(t, got, "the job"); v != "v" {
		t.Fatalf("job saw %q, want the request's value and no cancellation", v)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
