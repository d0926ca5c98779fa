package ophost_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// peerRecorder notes which server answered each RPC of a client (its
// address as the connection sees it), with interceptors that New installs.
type peerRecorder struct {
	mu    sync.Mutex
	calls []servedCall
}

type servedCall struct{ method, addr string }

func (r *peerRecorder) note(method string, addr *peer.Peer) {
	call := servedCall{method: method[len(service):]}
	if addr != nil && addr.Addr != nil {
		call.addr = addr.Addr.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
}

func (r *peerRecorder) option() ophost.Option {
	return ophost.WithDialOptions(
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			var p peer.Peer
			err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Peer(&p))...)
			r.note(method, &p)
			return err
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			stream, err := streamer(ctx, desc, cc, method, opts...)
			if err == nil {
				// The stream's context carries the server it was opened on
				// (asking for it commits the attempt: no transparent retry).
				p, _ := peer.FromContext(stream.Context())
				r.note(method, p)
			}
			return stream, err
		}),
	)
}

// last is the server that answered the latest call of method ("" if none).
func (r *peerRecorder) last(method string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, call := range slices.Backward(r.calls) {
		if call.method == method {
			return call.addr
		}
	}
	return ""
}

// replicaOf is the index of the replica at addr, failing the test when addr
// is neither.
func replicaOf(t *testing.T, addrs [2]string, addr string) int {
	t.Helper()
	i := slices.Index(addrs[:], addr)
	if i < 0 {
		t.Fatalf("a call was answered by %q, not by a replica %v", addr, addrs)
	}
	return i
}

// checkExecution checks an execution as a GetExecution answer shows it.
func checkExecution(t *testing.T, who string, got *ophostv1.Execution, id string, state ophostv1.ExecutionState, result any) {
	t.Helper()
	if got.GetId() != id || got.GetState() != state {
		t.Fatalf("%s: GetExecution(%s) = %s in state %s, want %s", who, id, got.GetId(), got.GetState(), state)
	}
	if result == nil {
		return
	}
	outputs := got.GetOutputs()
	if len(outputs) != 1 || outputs[0].GetName() != "result" {
		t.Fatalf("%s: outputs of %s = %v, want one named result", who, id, outputs)
	}
	if value, err := ophost.DecodeValue(outputs[0].GetValue()); err != nil || value != result {
		t.Fatalf("%s: result of %s = %v, %v; want %v", who, id, value, err, result)
	}
}

// waitForExecution asks client for the execution until it knows it, for up
// to 5 s, and says whether it had to ask more than once. A replica accepts
// an execution started without a request id before the row is committed
// (the row is written with the first events), so for a few milliseconds
// another replica answers NotFound.
func waitForExecution(t *testing.T, ctx context.Context, client *ophost.Client, id string) (waited bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		_, err := client.GetExecution(ctx, id)
		var rpcErr *ophost.RPCError
		switch {
		case err == nil:
			return waited
		case !errors.As(err, &rpcErr) || rpcErr.Code() != codes.NotFound:
			t.Fatalf("GetExecution(%s) on the other replica: %v", id, err)
		}
		waited = true
		select {
		case <-ctx.Done():
			t.Fatalf("the other replica did not know %s within 5 s: %v", id, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestReplicasActAsOneHost runs two `ophost serve` processes on one SQLite
// file: replicas of one host. Executions started through a client balanced
// over both are fetched, followed, listed and canceled through either.
func TestReplicasActAsOneHost(t *testing.T) {
	store := sqliteStore(filepath.Join(t.TempDir(), "store.db"))
	// A short drain grace: should the test fail with long_running still
	// running, the servers stop at once rather than after 10 s.
	addrs, ids := startServers(t, [2]string{store, store}, "--drain-grace", "0.5")
	if ids[0] == ids[1] {
		t.Fatalf("both replicas have the server id %s", ids[0])
	}
	var alone [2]*ophost.Client // a client of each replica alone
	for i, addr := range addrs {
		alone[i] = newTestClient(t, addr)
	}
	rec := &peerRecorder{}
	balanced := newTestClient(t, addrs[0]+","+addrs[1], rec.option())
	servedBy(t, balanced, ids) // both replicas have answered it
	ctx := testContext(t)

	// A long execution (1200 steps of 50 ms, about a minute, stopping within
	// a step when canceled), running once it has logged, left running while
	// the others go.
	long, err := balanced.Execute(ctx, "long_running", map[string]any{"steps": 1200},
		ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	longOn := replicaOf(t, addrs, rec.last("Execute"))
	for long.Next() {
		if _, ok := long.Event().(*ophost.LogMessage); ok {
			break
		}
	}
	if long.Err() != nil || long.Finished() != nil {
		t.Fatalf("long_running before its first log line: %v, finished %v", long.Err(), long.Finished())
	}

	// Six short ones: each is fetched and followed to its end through the
	// balanced client, whose calls alternate between the replicas. Half are
	// started with a request id: the replica commits those before it accepts
	// them, so the other replica finds them at once.
	type short struct {
		id     string
		on     int // the replica that started it
		result int64
	}
	var shorts []short
	crossed := map[string]int{} // calls about an execution answered by the other replica
	waits := 0                  // executions the other replica did not know at first
	for i := range 6 {
		var opts []ophost.ExecOption
		withID := i%2 == 0
		if withID {
			opts = append(opts, ophost.WithRequestID(fmt.Sprintf("replicas-add-%d", i)))
		}
		x, err := balanced.Execute(ctx, "add", map[string]any{"a": i, "b": 100}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		x.Close() // the execution goes on; it is followed below
		s := short{id: x.ID(), on: replicaOf(t, addrs, rec.last("Execute")), result: int64(i + 100)}
		shorts = append(shorts, s)

		// The other replica, asked at once.
		if withID {
			if _, err := alone[1-s.on].GetExecution(ctx, s.id); err != nil {
				t.Fatalf("GetExecution(%s) on the other replica right after it was accepted with a request id: %v", s.id, err)
			}
		} else if waitForExecution(t, ctx, alone[1-s.on], s.id) {
			waits++
		}

		fetch := func() {
			got, err := balanced.GetExecution(ctx, s.id)
			if err != nil {
				t.Fatalf("GetExecution(%s): %v", s.id, err)
			}
			if got.GetId() != s.id || got.GetOpName() != "add" {
				t.Fatalf("GetExecution(%s) = %v", s.id, got)
			}
			if replicaOf(t, addrs, rec.last("GetExecution")) != s.on {
				crossed["GetExecution"]++
			}
		}
		follow := func() {
			followed, err := balanced.Attach(ctx, s.id, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer followed.Close()
			if replicaOf(t, addrs, rec.last("StreamEvents")) != s.on {
				crossed["StreamEvents"]++
			}
			events := collect(t, followed)
			checkSequences(t, events, 1)
			if kinds := eventKinds(events); len(kinds) == 0 || kinds[len(kinds)-1] != "ExecutionFinished:EXECUTION_STATUS_SUCCEEDED" {
				t.Fatalf("events of %s: %v", s.id, kinds)
			}
			if got := followed.Outputs()["result"]; got != s.result {
				t.Fatalf("followed result of %s = %v, want %d", s.id, got, s.result)
			}
		}
		// In turn first, so that both kinds of call land on each replica.
		if i%2 == 0 {
			fetch()
			follow()
		} else {
			follow()
			fetch()
		}
	}
	if crossed["GetExecution"] == 0 || crossed["StreamEvents"] == 0 {
		t.Errorf("calls about an execution that went to the replica that had not started it: %v, want some of each", crossed)
	}

	// Both replicas started some; each knows every execution, finished.
	started := [2]int{}
	for _, s := range shorts {
		started[s.on]++
		for i, client := range alone {
			got, err := client.GetExecution(ctx, s.id)
			if err != nil {
				t.Fatalf("GetExecution(%s) on replica %d (it started on %d): %v", s.id, i, s.on, err)
			}
			checkExecution(t, "replica "+addrs[i], got, s.id, ophostv1.ExecutionState_EXECUTION_STATE_SUCCEEDED, s.result)
		}
	}
	started[longOn]++
	t.Logf("the replicas started %v of the 7 executions; balanced calls about one that went to the other: %v; "+
		"the other did not know %d of the 3 started without a request id at first", started, crossed, waits)
	if started[0] == 0 || started[1] == 0 {
		t.Errorf("the replicas started %v of the 7 executions, want some each", started)
	}

	// Each lists them all.
	var want []string
	for _, s := range shorts {
		want = append(want, s.id)
	}
	slices.Sort(want)
	for i, client := range alone {
		adds, err := client.ListExecutions(ctx, "add")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range adds {
			got = append(got, x.GetId())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("replica %d lists the add executions %v, want %v", i, got, want)
		}
		running, err := client.ListExecutions(ctx, "long_running")
		if err != nil {
			t.Fatal(err)
		}
		if len(running) != 1 || running[0].GetId() != long.ID() {
			t.Errorf("replica %d lists the long_running executions %v, want %s alone", i, running, long.ID())
		}
	}

	// The long one is still running. The other replica follows it live and
	// cancels it; the replica running it stops it.
	other := 1 - longOn
	followed, err := alone[other].Attach(ctx, long.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer followed.Close()
	for followed.Next() {
		if _, ok := followed.Event().(*ophost.LogMessage); ok {
			break // live on the other replica too
		}
	}
	if followed.Err() != nil || followed.Finished() != nil {
		t.Fatalf("following %s on the other replica: %v, finished %v", long.ID(), followed.Err(), followed.Finished())
	}
	canceled, err := alone[other].Cancel(ctx, long.ID(), "from the other replica")
	if err != nil {
		t.Fatalf("Cancel(%s) on the other replica: %v", long.ID(), err)
	}
	if canceled.GetId() != long.ID() {
		t.Errorf("Cancel returned %v", canceled)
	}
	checkCanceled(t, followed) // as the other replica streams it
	checkCanceled(t, long)     // on the Execute stream, on the replica that ran it
	for i, client := range alone {
		got, err := client.GetExecution(ctx, long.ID())
		if err != nil {
			t.Fatal(err)
		}
		checkExecution(t, "replica "+addrs[i], got, long.ID(), ophostv1.ExecutionState_EXECUTION_STATE_CANCELED, nil)
		replay, err := client.Attach(ctx, long.ID(), 0)
		if err != nil {
			t.Fatal(err)
		}
		events := collect(t, replay)
		replay.Close()
		checkSequences(t, events, 1)
		if f := replay.Finished(); f == nil || f.Status != ophostv1.ExecutionStatus_EXECUTION_STATUS_CANCELED {
			t.Errorf("replica %d replays %s ending with %+v, want CANCELED", i, long.ID(), f)
		}
	}
}
