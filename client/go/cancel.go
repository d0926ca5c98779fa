package ophost

import (
	"context"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// Cancel asks the server to cancel an execution and returns it as it is
// now (usually CANCEL_REQUESTED). Canceling a finished execution changes
// nothing. The execution's stream reports the outcome.
func (c *Client) Cancel(ctx context.Context, executionID, reason string) (*ophostv1.Execution, error) {
	resp, err := unary(ctx, c, "CancelExecution "+executionID, func(ctx context.Context) (*ophostv1.CancelExecutionResponse, error) {
		return c.stub.CancelExecution(ctx, &ophostv1.CancelExecutionRequest{ExecutionId: executionID, Reason: reason})
	})
	if err != nil {
		return nil, err
	}
	return resp.GetExecution(), nil
}

// Cancel asks the server to cancel the execution, giving reason (which the
// server only logs; it may be empty). The events keep coming until
// ExecutionFinished, which says how the execution ended: canceled, or
// finished before the cancel took effect.
//
// When this Execution started the execution (Client.Execute) and its
// Execute stream is still open, the cancel is a message on that stream;
// it then travels with the stream's headers, those of the context given to
// Execute. Otherwise (an Execution made by Attach, one that re-attached
// after a break, or one that has ended or was closed) it is the
// CancelExecution RPC, made under ctx like any other call.
//
// Cancel is idempotent: canceling again, or canceling an execution that has
// finished, changes nothing and returns nil. It returns an error only when
// the cancel could not be sent: an *RPCError when the CancelExecution RPC
// fails (NotFound for an execution the server no longer retains, or the
// code of a ctx that has ended), and an error wrapping ErrClosed when the
// client is closed. It may be called from any goroutine, also while another
// one reads the events.
func (x *Execution) Cancel(ctx context.Context, reason string) error {
	if err := ctx.Err(); err != nil {
		return callError(ctx, err)
	}
	if x.client.closed.Load() {
		return closedErr("cancel " + x.id)
	}
	if x.sendCancel(reason) {
		return nil
	}
	_, err := x.client.Cancel(ctx, x.id, reason)
	return err
}

// sendCancel sends a cancel on the Execute stream, and reports whether it
// could: false when there is no open Execute stream or sending failed (the
// stream broke or ended), and CancelExecution must be used instead.
func (x *Execution) sendCancel(reason string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.exec == nil || x.ctx.Err() != nil {
		return false
	}
	request := &ophostv1.ExecuteRequest{Kind: &ophostv1.ExecuteRequest_Cancel{Cancel: &ophostv1.ExecuteCancel{Reason: reason}}}
	return x.exec.Send(request) == nil
}
