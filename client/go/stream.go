package ophost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// errStreamClosed is returned by Result when the stream was closed before
// the execution finished.
var errStreamClosed = errors.New("ophost: the stream was closed before the execution finished")

// Execution is the event stream of one execution, made by Client.Execute
// (which started it) or Client.Attach (which follows it). Read it with
// Next, Event and Err:
//
//	for x.Next() {
//		switch e := x.Event().(type) {
//		case *ophost.LogMessage:
//			fmt.Println(e.Message)
//		}
//	}
//	if err := x.Err(); err != nil { ... }
//
// or range over Events. Events arrive once each, in sequence order; the
// chunks of large outputs are reassembled before their OutputProduced event
// is delivered. When the RPC breaks (status UNAVAILABLE, a reset connection,
// or an end before the terminal event), the stream re-attaches after the
// last event it received, with backoff; after too many failed attempts in a
// row it ends with a *StreamBrokenError.
//
// Next is not safe for concurrent use; Cancel and Close may be called from
// any goroutine. Close the stream (or cancel its context) when done, to end
// the RPC; the execution keeps running on the server.
type Execution struct {
	client     *Client
	ctx        context.Context
	cancel     context.CancelFunc
	stopFollow func() bool // unregisters the client-close hook
	userClosed atomic.Bool

	id       string
	accepted *ophostv1.Execution

	mu         sync.Mutex // guards exec (Cancel sends on it) and callCancel
	exec       grpc.BidiStreamingClient[ophostv1.ExecuteRequest, ophostv1.ExecuteResponse]
	events     grpc.ServerStreamingClient[ophostv1.StreamEventsResponse]
	callCancel context.CancelFunc

	// Receiving: the last sequence received, the output whose chunks are
	// still arriving, and decoded events not yet handed out.
	lastSeq     uint64
	pending     *ophostv1.Event
	assembly    *assembly
	skipOrphans bool
	terminal    bool
	ready       []Event
	failures    int // breaks in a row with no event in between
	reattached  int

	// Delivered: what the caller has seen.
	current   Event
	err       error
	done      bool
	delivered uint64
	outputs   map[string]any
	failure   *StepFailed
	finished  *ExecutionFinished
}

func newExecution(ctx context.Context, c *Client, id string, after uint64) *Execution {
	ctx, cancel := context.WithCancel(ctx)
	x := &Execution{
		client:      c,
		ctx:         ctx,
		cancel:      cancel,
		id:          id,
		lastSeq:     after,
		delivered:   after,
		skipOrphans: after > 0,
		outputs:     map[string]any{},
	}
	x.stopFollow = context.AfterFunc(c.ctx, cancel)
	return x
}

// ID is the execution's id.
func (x *Execution) ID() string { return x.id }

// Accepted is the execution as the server accepted it (nil for a stream made
// by Attach).
func (x *Execution) Accepted() *ophostv1.Execution { return x.accepted }

// LastSequence is the sequence of the last event delivered (the
// afterSequence given to Attach before any).
func (x *Execution) LastSequence() uint64 { return x.delivered }

// Reattached is how many times the stream re-attached after a break.
func (x *Execution) Reattached() int { return x.reattached }

// Next advances to the next event, which Event then returns. It blocks
// until one arrives, and returns false at the end of the stream (after
// ExecutionFinished) or on an error, which Err then returns.
func (x *Execution) Next() bool {
	if x.done {
		return false
	}
	for len(x.ready) == 0 {
		if x.terminal {
			x.finish(nil)
			return false
		}
		if err := x.pump(); err != nil {
			x.finish(err)
			return false
		}
	}
	x.current = x.ready[0]
	x.ready = x.ready[1:]
	x.observe(x.current)
	return true
}

// Event is the event Next advanced to.
func (x *Execution) Event() Event { return x.current }

// Err is the error that ended the stream early, nil at its normal end or
// after Close.
func (x *Execution) Err() error { return x.err }

// Events ranges over the remaining events. An error that ends the stream is
// yielded last, with a nil event.
func (x *Execution) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for x.Next() {
			if !yield(x.Event(), nil) {
				return
			}
		}
		if err := x.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// Outputs are the outputs of the current attempt delivered so far, by name
// (outputs of a failed attempt are dropped when a retry starts).
func (x *Execution) Outputs() map[string]any { return maps.Clone(x.outputs) }

// Finished is the terminal event once it was delivered, else nil.
func (x *Execution) Finished() *ExecutionFinished { return x.finished }

// Result reads the stream to its end and returns the outputs of the final
// attempt. A failed op gives an *OpFailedError, a canceled execution an
// *ExecutionCanceledError.
func (x *Execution) Result() (map[string]any, error) {
	for x.Next() {
	}
	if x.err != nil {
		return nil, x.err
	}
	f := x.finished
	if f == nil {
		return nil, errStreamClosed
	}
	switch f.Status {
	case ophostv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED:
		return x.Outputs(), nil
	case ophostv1.ExecutionStatus_EXECUTION_STATUS_CANCELED:
		return nil, &ExecutionCanceledError{ExecutionID: f.ExecutionID, OpName: f.OpName, Outcome: f.CancelOutcome, Finished: f}
	}
	failed := &OpFailedError{ExecutionID: f.ExecutionID, OpName: f.OpName, Failure: x.failure, Finished: f, Err: f.Error}
	if x.failure != nil && x.failure.Error != nil {
		failed.Err = x.failure.Error
	}
	return nil, failed
}

// Close ends the RPC; Next then returns false. The execution keeps running
// on the server (use Cancel to stop it). Close is idempotent.
func (x *Execution) Close() {
	x.userClosed.Store(true)
	x.stopFollow()
	x.cancel()
}

func (x *Execution) finish(err error) {
	if x.userClosed.Load() {
		err = nil
	}
	x.err, x.done = err, true
	x.current = nil
	x.endCall()
	x.stopFollow()
	x.cancel()
}

func (x *Execution) observe(e Event) {
	x.delivered = e.Info().Sequence
	switch e := e.(type) {
	case *StepRestarted:
		clear(x.outputs)
	case *OutputProduced:
		x.outputs[e.OutputName] = e.Value
	case *StepFailed:
		x.failure = e
	case *ExecutionFinished:
		x.finished = e
	}
}

// -- opening ---------------------------------------------------------------

func (x *Execution) callContext() context.Context {
	ctx, cancel := context.WithCancel(x.ctx)
	x.mu.Lock()
	x.callCancel = cancel
	x.mu.Unlock()
	return ctx
}

// openExecute sends start and the chunks of uploaded values, then waits for
// accepted.
func (x *Execution) openExecute(start *ophostv1.ExecutionStart, chunks []*ophostv1.ValueChunk) error {
	what := "op " + start.GetOpName()
	stream, err := x.client.stub.Execute(x.callContext())
	if err != nil {
		return x.openError(what, err)
	}
	x.mu.Lock()
	x.exec = stream
	x.mu.Unlock()
	if err := x.send(stream, start, chunks); err != nil && !errors.Is(err, io.EOF) {
		return x.openError(what, err)
	}
	// On io.EOF the server ended the call while we sent: Recv gives its status.
	resp, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &ProtocolError{Message: "the Execute stream ended before the execution was accepted"}
		}
		return x.openError(what, err)
	}
	accepted := resp.GetAccepted()
	if accepted == nil {
		return &ProtocolError{Message: fmt.Sprintf("the Execute stream sent %T before accepted", resp.GetKind())}
	}
	x.id, x.accepted = accepted.GetExecutionId(), accepted.GetExecution()
	return nil
}

func (x *Execution) send(stream grpc.BidiStreamingClient[ophostv1.ExecuteRequest, ophostv1.ExecuteResponse], start *ophostv1.ExecutionStart, chunks []*ophostv1.ValueChunk) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := stream.Send(&ophostv1.ExecuteRequest{Kind: &ophostv1.ExecuteRequest_Start{Start: start}}); err != nil {
		return err
	}
	for _, chunk := range chunks {
		if err := stream.Send(&ophostv1.ExecuteRequest{Kind: &ophostv1.ExecuteRequest_Chunk{Chunk: chunk}}); err != nil {
			return err
		}
	}
	return nil
}

func (x *Execution) openError(what string, err error) error {
	if x.client.closed.Load() {
		return closedErr(what)
	}
	return callError(x.ctx, err)
}

// openEvents opens StreamEvents after the last sequence received.
func (x *Execution) openEvents() error {
	stream, err := x.client.stub.StreamEvents(x.callContext(), &ophostv1.StreamEventsRequest{ExecutionId: x.id, AfterSequence: x.lastSeq})
	if err != nil {
		return err
	}
	x.events = stream
	return nil
}

// endCall ends the current RPC, if any.
func (x *Execution) endCall() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.callCancel != nil {
		x.callCancel()
		x.callCancel = nil
	}
	x.exec = nil
	x.events = nil
}

// -- receiving -------------------------------------------------------------

// readBatch returns the events of the next message of the current RPC, or
// io.EOF when the RPC ended with status OK.
func (x *Execution) readBatch() ([]*ophostv1.Event, error) {
	x.mu.Lock()
	exec, events := x.exec, x.events
	x.mu.Unlock()
	switch {
	case exec != nil:
		resp, err := exec.Recv()
		if err != nil {
			return nil, err
		}
		if resp.GetAccepted() != nil {
			return nil, &ProtocolError{ExecutionID: x.id, Message: "the Execute stream sent a second accepted"}
		}
		return resp.GetEvents().GetEvents(), nil // nil for a kind this client does not know
	case events != nil:
		resp, err := events.Recv()
		if err != nil {
			return nil, err
		}
		return resp.GetEvents(), nil
	}
	return nil, io.EOF
}

// pump reads one message and processes its events, re-attaching when the
// RPC broke.
func (x *Execution) pump() error {
	batch, err := x.readBatch()
	if err != nil {
		var protoErr *ProtocolError
		if errors.As(err, &protoErr) {
			return err
		}
		return x.recover(err)
	}
	if len(batch) > 0 {
		x.failures = 0
	}
	for _, e := range batch {
		if err := x.process(e); err != nil {
			return err
		}
	}
	return nil
}

// recover decides what a failed or ended RPC means: the end of the stream
// (closed, canceled), an error to report, or a break to re-attach after.
func (x *Execution) recover(err error) error {
	if x.client.closed.Load() {
		return closedErr("execution " + x.id)
	}
	if x.ctx.Err() != nil {
		return callError(x.ctx, err)
	}
	var rpcErr *RPCError
	if !errors.Is(err, io.EOF) {
		wrapped := newRPCError(err)
		if !errors.As(wrapped, &rpcErr) {
			return wrapped
		}
		if !transient(rpcErr) {
			if x.reattached > 0 {
				return x.broken(rpcErr)
			}
			return rpcErr
		}
	}
	var cause error
	if rpcErr != nil {
		cause = rpcErr
	}
	return x.reattach(cause)
}

// transient reports whether a stream that failed with err may be resumed:
// always for UNAVAILABLE, and for the codes a broken connection produces
// when the error does not come from the server's logic (which always
// attaches an ErrorInfo reason).
func transient(err *RPCError) bool {
	switch err.Code() {
	case codes.Unavailable:
		return true
	case codes.Unknown, codes.Internal, codes.Canceled, codes.Aborted:
		return err.Reason() == ""
	}
	return false
}

func (x *Execution) resumePoint() uint64 {
	if x.pending != nil {
		return x.pending.GetSequence() - 1
	}
	return x.lastSeq
}

func (x *Execution) broken(cause error) error {
	return &StreamBrokenError{ExecutionID: x.id, LastSequence: x.resumePoint(), Attempts: max(x.failures-1, 0), Err: cause}
}

// reattach waits, then opens StreamEvents after the last complete event
// (before an output whose chunks were cut off).
func (x *Execution) reattach(cause error) error {
	x.failures++
	if x.failures > x.client.s.reattachAttempts {
		return x.broken(cause)
	}
	delay := min(x.client.s.reattachBackoff<<(x.failures-1), MaxReattachBackoff)
	timer := time.NewTimer(delay)
	select {
	case <-x.ctx.Done():
		timer.Stop()
		return x.recover(x.ctx.Err())
	case <-timer.C:
	}
	x.endCall()
	x.lastSeq = x.resumePoint()
	x.pending, x.assembly = nil, nil
	x.reattached++
	if err := x.openEvents(); err != nil {
		return x.recover(err)
	}
	return nil
}

// process checks one event's sequence and either holds it (an output whose
// chunks follow, or one of those chunks) or decodes it for delivery.
func (x *Execution) process(e *ophostv1.Event) error {
	if want := x.lastSeq + 1; x.terminal || e.GetSequence() != want {
		what := fmt.Sprintf("expected %d", want)
		if x.terminal {
			what = "after the terminal event"
		}
		return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("received event %d, %s (sequences must follow each other without gaps or repeats)", e.GetSequence(), what)}
	}
	x.lastSeq = e.GetSequence()
	if x.pending != nil {
		return x.addChunk(e)
	}
	if e.GetValueChunk() != nil {
		if x.skipOrphans {
			return nil // attached inside a chunk run whose output came before
		}
		return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("event %d is a value chunk with no output before it", e.GetSequence())}
	}
	x.skipOrphans = false
	if ref := e.GetOutput().GetValue().GetChunkedValue(); ref != nil {
		a, err := newAssembly(ref)
		if err != nil {
			return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("event %d: %v", e.GetSequence(), err)}
		}
		x.pending, x.assembly = e, a
		return nil
	}
	return x.deliver(e)
}

func (x *Execution) addChunk(e *ophostv1.Event) error {
	chunk := e.GetValueChunk()
	if chunk == nil {
		return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("event %d came before every chunk of output %q (event %d) arrived",
			e.GetSequence(), x.pending.GetOutput().GetOutputName(), x.pending.GetSequence())}
	}
	done, err := x.assembly.add(chunk)
	if err == nil && done {
		var value *ophostv1.Value
		if value, err = x.assembly.value(); err == nil {
			pending := x.pending
			x.pending, x.assembly = nil, nil
			pending.GetOutput().Value = value
			return x.deliver(pending)
		}
	}
	if err != nil {
		return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("event %d: %v", e.GetSequence(), err)}
	}
	return nil
}

func (x *Execution) deliver(e *ophostv1.Event) error {
	if e.GetExecutionFinished() != nil {
		x.terminal = true
	}
	event, err := newEvent(e)
	if err != nil {
		return &ProtocolError{ExecutionID: x.id, Message: fmt.Sprintf("event %d: %v", e.GetSequence(), err)}
	}
	if event != nil {
		x.ready = append(x.ready, event)
	}
	return nil
}
