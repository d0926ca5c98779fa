package ophost_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// unreachableAddress is a local address where nothing listens (a port that
// was just free), so connecting to it is refused at once.
func unreachableAddress(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	if err := listener.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// dialer is a gRPC context dialer that counts its dials and refuses them
// (as a server that is not up yet would) until up is set; then it connects
// to the test server.
type dialer struct {
	dials    atomic.Int32
	up       atomic.Bool
	refused  chan struct{} // closed at the first refusal
	refuseMu sync.Once
}

func newDialer() *dialer { return &dialer{refused: make(chan struct{})} }

func (d *dialer) dial(ctx context.Context, _ string) (net.Conn, error) {
	d.dials.Add(1)
	if !d.up.Load() {
		d.refuseMu.Do(func() { close(d.refused) })
		return nil, errors.New("connection refused: the test server is not up yet")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", serverAddress)
}

// quickReconnect makes gRPC retry a failed connection after tens of
// milliseconds rather than its default of a second or more.
var quickReconnect = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
	MinConnectTimeout: 5 * time.Second,
})

// checkUnavailable checks that err is an *RPCError with code Unavailable
// whose message names the connection problem.
func checkUnavailable(t *testing.T, what string, err error, problem string) {
	t.Helper()
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.Unavailable {
		t.Errorf("%s: error %v (%T), want an *RPCError with code Unavailable", what, err, err)
		return
	}
	if !strings.Contains(rpcErr.Message(), problem) {
		t.Errorf("%s: message %q does not say %q", what, rpcErr.Message(), problem)
	}
}

func TestNewDoesNotConnect(t *testing.T) {
	d := newDialer()
	d.up.Store(true)
	client, err := ophost.New("passthrough:///ophost-test", ophost.WithDialOptions(grpc.WithContextDialer(d.dial)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if n := d.dials.Load(); n != 0 {
		t.Fatalf("New dialed %d times, want 0: the first call connects", n)
	}
	if _, err := client.ListOps(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := d.dials.Load(); n != 1 {
		t.Errorf("%d dials after the first call, want 1", n)
	}
}

func TestFirstCallToUnreachableServer(t *testing.T) {
	addr := unreachableAddress(t)
	client, err := ophost.New(addr)
	if err != nil {
		t.Fatalf("New(%s) = %v, want no error: New does not connect", addr, err)
	}
	defer client.Close()
	ctx := testContext(t)
	_, err = client.ListOps(ctx)
	checkUnavailable(t, "ListOps", err, addr)
	_, err = client.Call(ctx, "add", map[string]any{"a": 1, "b": 2})
	checkUnavailable(t, "Call", err, addr)
}

func TestWaitForReadyUnreachable(t *testing.T) {
	addr := unreachableAddress(t)
	client := newTestClient(t, addr, ophost.WithDialOptions(quickReconnect))
	ctx, cancel := context.WithTimeout(testContext(t), time.Second)
	defer cancel()
	err := client.WaitForReady(ctx)
	checkUnavailable(t, "WaitForReady", err, addr)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
	}

	canceled, cancel := context.WithCancel(testContext(t))
	cancel()
	err = client.WaitForReady(canceled)
	checkUnavailable(t, "WaitForReady with a canceled context", err, "context canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}
}

func TestWaitForReadyWaitsForTheServer(t *testing.T) {
	d := newDialer()
	client := newTestClient(t, "passthrough:///ophost-test",
		ophost.WithDialOptions(grpc.WithContextDialer(d.dial), quickReconnect))
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() { done <- client.WaitForReady(ctx) }()
	// The client was idle, so this first dial is WaitForReady's, and it was
	// refused: a call that does not wait for ready would fail now.
	<-d.refused
	d.up.Store(true) // the server comes up while WaitForReady waits
	if err := <-done; err != nil {
		t.Fatalf("WaitForReady: %v", err)
	}
	if _, err := client.ListOps(ctx); err != nil {
		t.Errorf("ListOps once ready: %v", err)
	}
}

func TestWaitForReadyOnHandedConnection(t *testing.T) {
	conn, err := grpc.NewClient(serverAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ophost.NewClient(conn)
	if err := client.WaitForReady(testContext(t)); err != nil {
		t.Fatalf("WaitForReady: %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.WaitForReady(testContext(t)); !errors.Is(err, ophost.ErrClosed) {
		t.Errorf("WaitForReady on a closed client: %v", err)
	}
	// Close left the connection, which is the caller's, open.
	if _, err := ophost.NewClient(conn).ListOps(testContext(t)); err != nil {
		t.Errorf("the handed connection after Close: %v", err)
	}

	down, err := grpc.NewClient(unreachableAddress(t), grpc.WithTransportCredentials(insecure.NewCredentials()), quickReconnect)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	ctx, cancel := context.WithTimeout(testContext(t), time.Second)
	defer cancel()
	checkUnavailable(t, "WaitForReady on a handed connection to nothing", ophost.NewClient(down).WaitForReady(ctx), "connection refused")
}

func TestWaitForReadyNeedsAnOphostServer(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := grpc.NewServer() // a gRPC server without the ophost service
	go func() { _ = bare.Serve(listener) }()
	defer bare.Stop()

	client := newTestClient(t, listener.Addr().String())
	err = client.WaitForReady(testContext(t))
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.Unimplemented {
		t.Errorf("WaitForReady against a server without ophost: %v, want Unimplemented", err)
	}
}
