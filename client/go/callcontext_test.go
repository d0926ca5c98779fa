package ophost_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

const service = "/ophost.v1.OpHostService/"

// callRecorder records every RPC a client makes (its method, and the value
// of the "x-test-call" header on its context) with interceptors that New
// installs, which see each call's context as gRPC sends it.
type callRecorder struct {
	mu    sync.Mutex
	calls []string // "Method x-test-call"
}

func (r *callRecorder) record(ctx context.Context, method string) {
	md, _ := metadata.FromOutgoingContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s %v", method[len(service):], md.Get("x-test-call")))
}

func (r *callRecorder) option() ophost.Option {
	return ophost.WithDialOptions(
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			r.record(ctx, method)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			r.record(ctx, method)
			return streamer(ctx, desc, cc, method, opts...)
		}),
	)
}

// recorded returns the calls recorded so far and forgets them.
func (r *callRecorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = nil
	return calls
}

// count is how many recorded calls were of method.
func (r *callRecorder) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, call := range r.calls {
		if len(call) > len(method) && call[:len(method)+1] == method+" " {
			n++
		}
	}
	return n
}

func tagged(ctx context.Context, call string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-test-call", call)
}

// drain reads a stream to its end and fails the test on an error.
func drain(t *testing.T, x *ophost.Execution) {
	t.Helper()
	for x.Next() {
	}
	if err := x.Err(); err != nil {
		t.Fatalf("stream of %s: %v", x.ID(), err)
	}
}

func TestMetadataOnEveryCall(t *testing.T) {
	rec := &callRecorder{}
	client := newTestClient(t, "", rec.option())
	ctx := testContext(t)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	must("WaitForReady", client.WaitForReady(tagged(ctx, "wait")))
	_, err := client.ServerInfo(tagged(ctx, "info"))
	must("ServerInfo", err)
	_, err = client.ListOps(tagged(ctx, "list-ops"))
	must("ListOps", err)
	_, err = client.GetOp(tagged(ctx, "get-op"), "add")
	must("GetOp", err)
	_, err = client.Call(tagged(ctx, "call"), "add", map[string]any{"a": 1, "b": 2})
	must("Call", err)
	x, err := client.Execute(tagged(ctx, "execute"), "count_up", map[string]any{"n": 1})
	must("Execute", err)
	drain(t, x)
	_, err = client.GetExecution(tagged(ctx, "get-execution"), x.ID())
	must("GetExecution", err)
	_, err = client.ListExecutions(tagged(ctx, "list-executions"), "count_up")
	must("ListExecutions", err)
	attached, err := client.Attach(tagged(ctx, "attach"), x.ID(), 0)
	must("Attach", err)
	drain(t, attached)
	_, err = client.Cancel(tagged(ctx, "cancel"), x.ID(), "")
	must("Cancel", err)
	must("Execution.Cancel", attached.Cancel(tagged(ctx, "execution-cancel"), ""))

	want := []string{
		"GetServerInfo [wait]",
		"GetServerInfo [info]",
		"ListOps [list-ops]",
		"GetOp [get-op]",
		"Execute [call]",
		"Execute [execute]",
		"GetExecution [get-execution]",
		"ListExecutions [list-executions]",
		"StreamEvents [attach]",
		"CancelExecution [cancel]",
		"CancelExecution [execution-cancel]",
	}
	if got := rec.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls and their x-test-call header:\n got %q\nwant %q", got, want)
	}
}

func TestMetadataOnReattach(t *testing.T) {
	rec := &callRecorder{}
	proxy := startResetProxy(t, serverAddress, 32<<10, 2)
	client := newTestClient(t, proxy.addr(), rec.option(), ophost.WithReattach(5, 50*time.Millisecond))
	x, err := client.Execute(tagged(testContext(t), "stream"), "count_up", map[string]any{"n": 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	drain(t, x)
	if x.Reattached() == 0 {
		t.Fatal("the stream never re-attached: the proxy did not reset it")
	}
	want := []string{"GetServerInfo [stream]", "Execute [stream]"}
	for range x.Reattached() {
		want = append(want, "StreamEvents [stream]")
	}
	if got := rec.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

// checkDeadlineExceeded checks that err is an *RPCError with code
// DeadlineExceeded in which errors.Is finds context.DeadlineExceeded.
func checkDeadlineExceeded(t *testing.T, what string, err error) {
	t.Helper()
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.DeadlineExceeded {
		t.Errorf("%s: error %v (%T), want an *RPCError with code DeadlineExceeded", what, err, err)
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("%s: errors.Is(err, context.DeadlineExceeded) = %t, status.Code = %v",
			what, errors.Is(err, context.DeadlineExceeded), status.Code(err))
	}
}

func TestDeadlineEndsCall(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	if _, err := client.ServerInfo(ctx); err != nil { // so that the deadline falls in the execution
		t.Fatal(err)
	}
	tag := fmt.Sprintf("deadline-%d", rand64())
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := client.Call(short, "long_running", map[string]any{"steps": 200},
		ophost.WithConfig(map[string]any{"step_seconds": 0.05}), ophost.WithTags(map[string]string{"test": tag}))
	checkDeadlineExceeded(t, "Call", err)

	// The deadline ended the call, not the execution: find it, and stop it.
	executions, err := client.ListExecutions(ctx, "long_running")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range executions {
		if e.GetTags()["test"] != tag {
			continue
		}
		found++
		if state := e.GetState(); state != ophostv1.ExecutionState_EXECUTION_STATE_RUNNING {
			t.Errorf("execution %s is %v after the call's deadline, want RUNNING", e.GetId(), state)
		}
		if _, err := client.Cancel(ctx, e.GetId(), "test over"); err != nil {
			t.Error(err)
		}
	}
	if found != 1 {
		t.Errorf("found %d executions tagged %s, want 1", found, tag)
	}
}

func TestExpiredContextOnEveryMethod(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	x, err := client.Execute(ctx, "count_up", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, x)
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()

	calls := map[string]func() error{
		"ServerInfo": func() error { _, err := client.ServerInfo(expired); return err },
		"ListOps":    func() error { _, err := client.ListOps(expired); return err },
		"GetOp":      func() error { _, err := client.GetOp(expired, "add"); return err },
		"GetExecution": func() error {
			_, err := client.GetExecution(expired, x.ID())
			return err
		},
		"ListExecutions": func() error { _, err := client.ListExecutions(expired, ""); return err },
		"Cancel":         func() error { _, err := client.Cancel(expired, x.ID(), ""); return err },
		"Call":           func() error { _, err := client.Call(expired, "add", map[string]any{"a": 1, "b": 2}); return err },
		"Execute": func() error {
			_, err := client.Execute(expired, "add", map[string]any{"a": 1, "b": 2})
			return err
		},
		"Attach": func() error {
			a, err := client.Attach(expired, x.ID(), 0)
			if err != nil {
				return err
			}
			_, err = a.Result()
			return err
		},
		"Execution.Cancel": func() error { return x.Cancel(expired, "") },
	}
	for name, call := range calls {
		checkDeadlineExceeded(t, name, call())
	}
}
