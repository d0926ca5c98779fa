package ophost_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// startLongRunning starts long_running for about 10 s (it stops within a
// step of 50 ms when canceled) and waits for its first log line, so that it
// is running.
func startLongRunning(t *testing.T, ctx context.Context, client *ophost.Client) *ophost.Execution {
	t.Helper()
	x, err := client.Execute(ctx, "long_running", map[string]any{"steps": 200},
		ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	for x.Next() {
		if _, ok := x.Event().(*ophost.LogMessage); ok {
			return x
		}
	}
	t.Fatalf("long_running ended before its first log line: %v", x.Err())
	return nil
}

// checkCanceled reads x to its end and checks that the execution was
// canceled while it ran.
func checkCanceled(t *testing.T, x *ophost.Execution) {
	t.Helper()
	for x.Next() {
	}
	if err := x.Err(); err != nil {
		t.Fatalf("stream of %s: %v", x.ID(), err)
	}
	f := x.Finished()
	if f == nil || f.Status != ophostv1.ExecutionStatus_EXECUTION_STATUS_CANCELED || !f.CancelRequested ||
		f.CancelOutcome != ophostv1.CancelOutcome_CANCEL_OUTCOME_COOPERATIVE {
		t.Fatalf("terminal event %+v, want a cooperative cancel", f)
	}
}

func TestExecutionCancelOnExecuteStream(t *testing.T) {
	rec := &callRecorder{}
	client := newTestClient(t, "", rec.option())
	ctx := testContext(t)
	x := startLongRunning(t, ctx, client)

	for range 2 { // a second cancel is harmless
		if err := x.Cancel(ctx, "enough"); err != nil {
			t.Fatal(err)
		}
	}
	checkCanceled(t, x)
	if n := rec.count("CancelExecution"); n != 0 {
		t.Errorf("%d CancelExecution calls, want none: the cancel belongs on the open Execute stream", n)
	}
	_, err := x.Result()
	var canceled *ophost.ExecutionCanceledError
	if !errors.As(err, &canceled) || canceled.ExecutionID != x.ID() || canceled.Outcome != ophostv1.CancelOutcome_CANCEL_OUTCOME_COOPERATIVE {
		t.Errorf("Result error = %v, want *ExecutionCanceledError", err)
	}

	// The stream has ended: canceling again goes by id, and changes nothing.
	if err := x.Cancel(ctx, "again"); err != nil {
		t.Errorf("Cancel after the end: %v", err)
	}
	if n := rec.count("CancelExecution"); n != 1 {
		t.Errorf("%d CancelExecution calls after the stream ended, want 1", n)
	}
	got, err := client.GetExecution(ctx, x.ID())
	if err != nil || got.GetState() != ophostv1.ExecutionState_EXECUTION_STATE_CANCELED {
		t.Errorf("GetExecution = %v, %v", got, err)
	}
}

func TestExecutionCancelAttached(t *testing.T) {
	ctx := testContext(t)
	started := startLongRunning(t, ctx, newTestClient(t, ""))
	started.Close() // the execution keeps running

	rec := &callRecorder{}
	client := newTestClient(t, "", rec.option())
	x, err := client.Attach(ctx, started.ID(), started.LastSequence())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.Cancel(ctx, "from an attached stream"); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("CancelExecution"); n != 1 {
		t.Errorf("%d CancelExecution calls, want 1", n)
	}
	checkCanceled(t, x)
}

func TestExecutionCancelAfterClose(t *testing.T) {
	rec := &callRecorder{}
	client := newTestClient(t, "", rec.option())
	ctx := testContext(t)
	x := startLongRunning(t, ctx, client)
	x.Close()
	if err := x.Cancel(ctx, "closed, then canceled"); err != nil {
		t.Fatal(err)
	}
	if n := rec.count("CancelExecution"); n != 1 {
		t.Errorf("%d CancelExecution calls, want 1: a closed stream cannot carry the cancel", n)
	}
	again, err := client.Attach(ctx, x.ID(), x.LastSequence())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	checkCanceled(t, again)
}

func TestExecutionCancelErrors(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)

	missing, err := client.Attach(ctx, "no-such-execution", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	err = missing.Cancel(ctx, "")
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.NotFound || rpcErr.Reason() != "EXECUTION_NOT_FOUND" {
		t.Errorf("Cancel of an unknown execution: %v (%T), want NotFound EXECUTION_NOT_FOUND", err, err)
	}

	x := startLongRunning(t, ctx, client)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	err = x.Cancel(canceled, "")
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.Canceled || !errors.Is(err, context.Canceled) {
		t.Errorf("Cancel with a canceled context: %v (%T), want an *RPCError with code Canceled", err, err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Cancel(ctx, ""); !errors.Is(err, ophost.ErrClosed) {
		t.Errorf("Cancel on a closed client: %v, want ErrClosed", err)
	}
	// The execution still runs: stop it with another client.
	if _, err := newTestClient(t, "").Cancel(ctx, x.ID(), "test over"); err != nil {
		t.Error(err)
	}
}

func TestCancelByID(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	x, err := client.Execute(ctx, "long_running", map[string]any{"steps": 200}, ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	execution, err := client.Cancel(ctx, x.ID(), "by id")
	if err != nil {
		t.Fatal(err)
	}
	if execution.GetId() != x.ID() {
		t.Errorf("Cancel returned %v", execution)
	}
	_, err = x.Result()
	var canceled *ophost.ExecutionCanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("Result error = %v, want *ExecutionCanceledError", err)
	}
	got, err := client.GetExecution(ctx, x.ID())
	if err != nil || got.GetState() != ophostv1.ExecutionState_EXECUTION_STATE_CANCELED {
		t.Errorf("GetExecution = %v, %v", got, err)
	}
}
