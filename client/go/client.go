package ophost

import (
	"context"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// capabilityChunkedUpload is the server capability that allows uploading
// inputs and config in chunks.
const capabilityChunkedUpload = "chunked_upload"

// Client calls the ops of one ophost server, or of the replicas of one host
// (see New). It is safe for concurrent use.
// Make one with New (for a target address) or NewClient (on a connection of
// yours).
//
// Every method takes a context.Context, which carries the per-call options
// in the manner of grpc-go: its deadline and cancelation bound the call, and
// the metadata attached with metadata.NewOutgoingContext or
// metadata.AppendToOutgoingContext is sent with it as request headers. An
// OpenTelemetry span in the context goes with the call as its W3C
// traceparent, so the server's spans continue the caller's trace.
//
// Op definitions, executions and server info are returned as the generated
// protocol messages (package ophostv1): they are complete, documented in the
// .proto files, and gain new fields with the protocol without this package
// having to mirror them. Values and events, which callers handle most, are
// converted to Go types (see DecodeValue and Event).
type Client struct {
	conn   *grpc.ClientConn // closed by Close when New made it
	stub   ophostv1.OpHostServiceClient
	s      settings
	ctx    context.Context // canceled by Close, which ends open streams
	stop   context.CancelFunc
	closed atomic.Bool

	infoMu sync.Mutex
	info   *ophostv1.GetServerInfoResponse
}

// unary runs one unary call under ctx, bounded also by the client's call
// timeout, and turns its error into an *RPCError (or ErrClosed).
func unary[Resp any](ctx context.Context, c *Client, what string, call func(context.Context) (Resp, error)) (Resp, error) {
	var zero Resp
	if c.closed.Load() {
		return zero, closedErr(what)
	}
	if c.s.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.s.callTimeout)
		defer cancel()
	}
	resp, err := call(ctx)
	if err != nil {
		if c.closed.Load() {
			return zero, closedErr(what)
		}
		return zero, callError(ctx, err)
	}
	return resp, nil
}

// ServerInfo asks the server for its versions, limits and capabilities. The
// answer is kept for uploads of large values.
func (c *Client) ServerInfo(ctx context.Context) (*ophostv1.GetServerInfoResponse, error) {
	info, err := unary(ctx, c, "GetServerInfo", func(ctx context.Context) (*ophostv1.GetServerInfoResponse, error) {
		return c.stub.GetServerInfo(ctx, &ophostv1.GetServerInfoRequest{})
	})
	if err != nil {
		return nil, err
	}
	c.keepInfo(info)
	return info, nil
}

func (c *Client) keepInfo(info *ophostv1.GetServerInfoResponse) {
	c.infoMu.Lock()
	c.info = info
	c.infoMu.Unlock()
}

func (c *Client) cachedServerInfo(ctx context.Context) (*ophostv1.GetServerInfoResponse, error) {
	c.infoMu.Lock()
	info := c.info
	c.infoMu.Unlock()
	if info != nil {
		return info, nil
	}
	return c.ServerInfo(ctx)
}

// ListOps returns every op the server hosts, in registration order,
// following the pages. It uses the basic view: names, descriptions and the
// names and types of inputs and outputs; GetOp returns the rest.
func (c *Client) ListOps(ctx context.Context) ([]*ophostv1.OpDefinition, error) {
	var ops []*ophostv1.OpDefinition
	token := ""
	for {
		page, err := unary(ctx, c, "ListOps", func(ctx context.Context) (*ophostv1.ListOpsResponse, error) {
			return c.stub.ListOps(ctx, &ophostv1.ListOpsRequest{PageToken: token, View: ophostv1.OpView_OP_VIEW_BASIC})
		})
		if err != nil {
			return nil, err
		}
		ops = append(ops, page.GetOps()...)
		if token = page.GetNextPageToken(); token == "" {
			return ops, nil
		}
	}
}

// GetOp returns the full definition of one op. An unknown op is an *RPCError
// with code NotFound and reason "OP_NOT_FOUND".
func (c *Client) GetOp(ctx context.Context, name string) (*ophostv1.OpDefinition, error) {
	resp, err := unary(ctx, c, "GetOp "+name, func(ctx context.Context) (*ophostv1.GetOpResponse, error) {
		return c.stub.GetOp(ctx, &ophostv1.GetOpRequest{OpName: name})
	})
	if err != nil {
		return nil, err
	}
	return resp.GetOp(), nil
}

// GetExecution returns one execution as it is now. Its outputs are wire
// values (DecodeValue converts them; large ones are chunked_value references
// whose data Attach re-reads).
func (c *Client) GetExecution(ctx context.Context, executionID string) (*ophostv1.Execution, error) {
	resp, err := unary(ctx, c, "GetExecution "+executionID, func(ctx context.Context) (*ophostv1.GetExecutionResponse, error) {
		return c.stub.GetExecution(ctx, &ophostv1.GetExecutionRequest{ExecutionId: executionID})
	})
	if err != nil {
		return nil, err
	}
	return resp.GetExecution(), nil
}

// ListExecutions returns the executions the server retains, newest first,
// following the pages. opName ("" for all) and states (none for all) filter.
func (c *Client) ListExecutions(ctx context.Context, opName string, states ...ophostv1.ExecutionState) ([]*ophostv1.Execution, error) {
	var found []*ophostv1.Execution
	token := ""
	for {
		page, err := unary(ctx, c, "ListExecutions", func(ctx context.Context) (*ophostv1.ListExecutionsResponse, error) {
			return c.stub.ListExecutions(ctx, &ophostv1.ListExecutionsRequest{PageToken: token, OpName: opName, States: states})
		})
		if err != nil {
			return nil, err
		}
		found = append(found, page.GetExecutions()...)
		if token = page.GetNextPageToken(); token == "" {
			return found, nil
		}
	}
}

// Execute starts op with inputs and returns the stream of its events once
// the server has accepted the execution. A request the server refuses (an
// unknown op, a missing or ill-typed input, bad config) is an *RPCError; an
// input or config that cannot be converted is a *ValueError, returned before
// anything is sent. Inputs and config larger than the server's inline
// threshold are uploaded in chunks.
//
// ctx bounds the whole stream, and its metadata goes with every RPC of it:
// when ctx ends, the stream ends with an *RPCError (DeadlineExceeded or
// Canceled) while the execution keeps running on the server (stop it with
// Execution.Cancel). Close the stream when done with it.
func (c *Client) Execute(ctx context.Context, op string, inputs map[string]any, opts ...ExecOption) (*Execution, error) {
	if c.closed.Load() {
		return nil, closedErr("op " + op)
	}
	var s execSettings
	for _, opt := range opts {
		opt(&s)
	}
	start, values, err := encodeStart(op, inputs, s)
	if err != nil {
		return nil, err
	}
	info, err := c.cachedServerInfo(ctx)
	if err != nil {
		return nil, err
	}
	chunks, err := chunkStart(start, values, info)
	if err != nil {
		return nil, err
	}
	x := newExecution(ctx, c, "", 0)
	if err := x.openExecute(start, chunks); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// Call runs op to its end and returns the outputs of its final attempt, by
// output name. An op that fails gives an *OpFailedError, a canceled
// execution an *ExecutionCanceledError; other errors are as for Execute.
func (c *Client) Call(ctx context.Context, op string, inputs map[string]any, opts ...ExecOption) (map[string]any, error) {
	x, err := c.Execute(ctx, op, inputs, opts...)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	return x.Result()
}

// Attach follows the events of an existing execution after afterSequence
// (0: from its first event), with the same re-attach behaviour as Execute.
// An unknown execution surfaces as an *RPCError (NotFound) from the stream.
// ctx bounds the stream as it does for Execute.
func (c *Client) Attach(ctx context.Context, executionID string, afterSequence uint64) (*Execution, error) {
	if c.closed.Load() {
		return nil, closedErr("attach " + executionID)
	}
	x := newExecution(ctx, c, executionID, afterSequence)
	if err := x.openEvents(); err != nil {
		x.Close()
		return nil, x.openError("attach "+executionID, err)
	}
	return x, nil
}
