package ophost

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The server can answer DeadlineExceeded a moment before the caller's own
// timer fires; the error must still say that the caller's deadline ended it.
func TestEarlyDeadlineAnswerCarriesTheContextError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := callError(ctx, status.Error(codes.DeadlineExceeded, "Deadline Exceeded"))
	if !errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("errors.Is(err, context.DeadlineExceeded) = %t, status.Code = %v",
			errors.Is(err, context.DeadlineExceeded), status.Code(err))
	}
}

// A DeadlineExceeded answer far from the caller's deadline (a deadline the
// server set for itself) is the server's answer, returned without waiting.
func TestServerDeadlineAnswerIsNotTheCallersDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err := callError(ctx, status.Error(codes.DeadlineExceeded, "the op's own timeout"))
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("errors.Is(err, context.DeadlineExceeded) = %t, status.Code = %v",
			errors.Is(err, context.DeadlineExceeded), status.Code(err))
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("callError waited %v", waited)
	}
}
