package ophost

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// New makes a client for the server at target: "host:port", or any target
// grpc.NewClient accepts ("dns:///ops.example.com:443", ...). The connection
// is plain text unless WithTLS, WithTransportCredentials, WithTLSRoots or
// WithTLSClientCert (or their File forms) is given; a file those name is
// read here, and one that does not load is an error.
//
// The target may also name several servers that act as one host (replicas
// of `ophost serve` sharing a database), over which the client then spreads
// its calls round robin: comma-separated addresses
// ("10.0.0.1:50051,10.0.0.2:50051", names allowed), the same list as an
// "ipv4:" or "ipv6:" URI, or a "dns:///name:port" target, balanced over
// every address the name has. See "Several servers" in the package
// documentation. A single address, or any other target, is used as given,
// with gRPC's default policy (pick_first).
//
// New does no network I/O and does not wait for the server: like
// grpc.NewClient, on which it is built, it only checks the target and the
// options, and the first call connects. A server that cannot be reached is
// reported by that call, as an *RPCError with code Unavailable. To wait for
// the server before the first call, or to check the target early, call
// WaitForReady with a deadline. Close the client when done.
func New(target string, opts ...Option) (*Client, error) {
	s := newSettings(opts)
	grpcTarget, targetOptions, err := dialTarget(target)
	if err != nil {
		return nil, fmt.Errorf("ophost: cannot make a client: %w", err)
	}
	if s.token != "" {
		if err := checkToken(s.token); err != nil {
			return nil, fmt.Errorf("ophost: cannot make a client: WithToken: %w", err)
		}
	}
	creds, err := s.transportCredentials()
	if err != nil {
		return nil, fmt.Errorf("ophost: cannot make a client: %w", err)
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	dialOptions := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepaliveParams),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReceiveMessageBytes)),
	}, targetOptions...)
	dialOptions = append(dialOptions, s.dialOptions...)
	conn, err := grpc.NewClient(grpcTarget, dialOptions...)
	if err != nil {
		return nil, fmt.Errorf("ophost: cannot make a client for %q: %w", target, err)
	}
	c := newClient(conn, s)
	c.conn = conn
	return c, nil
}

// NewClient makes a client on a connection of the caller's (with its own
// TLS, interceptors, load balancing and options), which it uses as it is:
// it does no network I/O either. Close then leaves the connection open.
// Only WithReattach, WithCallTimeout and WithToken apply.
func NewClient(conn grpc.ClientConnInterface, opts ...Option) *Client {
	return newClient(conn, newSettings(opts))
}

func newClient(conn grpc.ClientConnInterface, s settings) *Client {
	ctx, stop := context.WithCancel(context.Background())
	return &Client{stub: ophostv1.NewOpHostServiceClient(callConn{conn, s.token}), s: s, ctx: ctx, stop: stop}
}

// WaitForReady waits until the server answers, then returns nil. It asks the
// server for its info (as ServerInfo does, and keeps the answer) with gRPC's
// wait-for-ready semantics: while there is no connection, or connecting
// fails, the call waits for one, gRPC reconnecting with backoff, where any
// other call would fail at once with Unavailable. Use it after New to wait
// for a server that may still be starting, or to find out early that a
// target is wrong.
//
// It waits for an answer rather than for the connection's state to become
// READY, for two reasons. A connection handed to NewClient is any
// grpc.ClientConnInterface, which has no state to watch. And a READY
// transport proves neither that the ophost service is behind it nor that the
// caller's credentials and interceptors are accepted; an answer proves both,
// for a connection New made and for one handed in alike.
//
// On a client of several servers, the first one to answer ends the wait: the
// others may still be connecting, and calls go to those connected.
//
// Only ctx bounds the wait (the client's call timeout does not apply), so
// give it a deadline. When ctx ends before the server answered, the error is
// an *RPCError with code Unavailable whose message has gRPC's last
// connection error, and errors.Is finds ctx's error (context.DeadlineExceeded
// or context.Canceled) in it. An error the server answers with is returned
// as its *RPCError (Unimplemented, for example, when the server at the
// target is not an ophost server).
func (c *Client) WaitForReady(ctx context.Context) error {
	const what = "WaitForReady"
	if c.closed.Load() {
		return closedErr(what)
	}
	info, err := c.stub.GetServerInfo(ctx, &ophostv1.GetServerInfoRequest{}, grpc.WaitForReady(true))
	if err == nil {
		c.keepInfo(info)
		return nil
	}
	if c.closed.Load() {
		return closedErr(what)
	}
	ctxErr := contextEnded(ctx, err)
	st, _ := status.FromError(err)
	if ctxErr == nil || (st.Code() != codes.DeadlineExceeded && st.Code() != codes.Canceled) {
		return callError(ctx, err)
	}
	message := fmt.Sprintf("the server did not answer before the wait ended (%v)", ctxErr)
	if m := st.Message(); m != "" && m != ctxErr.Error() {
		message += ": " + m
	}
	return rpcErrorFromStatus(errors.Join(err, ctxErr), status.New(codes.Unavailable, message))
}

// Close closes the connection (if New made it) and ends the client's open
// event streams; the executions themselves keep running on the server.
// Further calls return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.stop()
	if c.conn != nil {
		return c.conn.Close()
	}
	return nil
}

func closedErr(what string) error {
	return fmt.Errorf("%w (%s)", ErrClosed, what)
}
