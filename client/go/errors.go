package ophost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// ErrClosed is returned (wrapped) by every call made on a closed Client, and
// by streams that were open when it was closed. Test with errors.Is.
var ErrClosed = errors.New("ophost: the client is closed")

// RPCError is an RPC that failed with a gRPC status: a request the server
// refused (unknown op, bad input, ...) or a transport failure.
//
// The server attaches a google.rpc.ErrorInfo to every error it returns (domain
// "ophost", reason such as "OP_NOT_FOUND"), a BadRequest naming the invalid
// fields ("inputs.a", "config.db.port") and sometimes a RetryInfo. Transport
// failures have none of these. RPCError keeps the original status, so
// status.FromError and status.Code work on it and on errors wrapping it.
type RPCError struct {
	err        error
	status     *status.Status
	reason     string
	domain     string
	metadata   map[string]string
	violations []FieldViolation
	retryDelay time.Duration
	hasRetry   bool
}

// FieldViolation is one invalid field of a request, from a BadRequest detail.
type FieldViolation struct {
	// Field is the path of the field, for example "inputs.a" or "config.db.port".
	Field string
	// Description says what is wrong with it.
	Description string
}

// newRPCError wraps an error returned by a gRPC call. Errors that carry no
// gRPC status (a context error, io.EOF) are returned unchanged.
func newRPCError(err error) error {
	if err == nil {
		return nil
	}
	var already *RPCError
	if errors.As(err, &already) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return rpcErrorFromStatus(err, st)
}

// callError turns the error of a call made under ctx into an *RPCError.
// When ctx has ended, the error says so whatever broke first: its code is
// DeadlineExceeded or Canceled (as grpc-go reports a context that ends
// during a call) and errors.Is finds ctx's error in it. An answer the server
// gave, with another code, is kept.
func callError(ctx context.Context, err error) error {
	ctxErr := contextEnded(ctx, err)
	var already *RPCError
	if ctxErr == nil || errors.As(err, &already) {
		return newRPCError(err)
	}
	st, ok := status.FromError(err)
	if ok && st.Code() != codes.DeadlineExceeded && st.Code() != codes.Canceled {
		return rpcErrorFromStatus(err, st)
	}
	if !ok {
		st = status.FromContextError(ctxErr)
	}
	if !errors.Is(err, ctxErr) {
		err = errors.Join(err, ctxErr)
	}
	return rpcErrorFromStatus(err, st)
}

// deadlineSlack bounds how long contextEnded waits for ctx's own timer.
const deadlineSlack = 50 * time.Millisecond

// contextEnded is ctx's error once a call under it failed with err. The
// server learns the caller's deadline from the request and may end the call
// with DeadlineExceeded a little before ctx's own timer fires (its clock
// rounds, and this process's timer can run late under load). Such an answer,
// with ctx's deadline at most deadlineSlack away, is the caller's deadline:
// wait for ctx to end so that errors.Is finds context.DeadlineExceeded in
// every call error the deadline caused, not only in most of them.
func contextEnded(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil || status.Code(err) != codes.DeadlineExceeded {
		return ctxErr
	}
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > deadlineSlack {
		return nil
	}
	timer := time.NewTimer(time.Until(deadline) + deadlineSlack)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	return ctx.Err()
}

// rpcErrorFromStatus is the *RPCError of st, with the details the server
// attached; err is what Unwrap returns.
func rpcErrorFromStatus(err error, st *status.Status) *RPCError {
	e := &RPCError{err: err, status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			e.reason, e.domain, e.metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.violations = append(e.violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		case *errdetails.RetryInfo:
			if d.GetRetryDelay() != nil {
				e.retryDelay, e.hasRetry = d.GetRetryDelay().AsDuration(), true
			}
		}
	}
	return e
}

// Code is the gRPC status code, for example codes.NotFound.
func (e *RPCError) Code() codes.Code { return e.status.Code() }

// Message is the status message the server (or the transport) gave.
func (e *RPCError) Message() string { return e.status.Message() }

// Reason is the ErrorInfo reason ("OP_NOT_FOUND", "INVALID_INPUT", ...), or
// "" when the error carries no ErrorInfo (transport failures). Compare it with
// the ophostv1.ErrorReason names without their "ERROR_REASON_" prefix; new
// servers may send reasons this client does not know.
func (e *RPCError) Reason() string { return e.reason }

// Domain is the ErrorInfo domain, "ophost" for errors from an ophost server.
func (e *RPCError) Domain() string { return e.domain }

// Metadata is the ErrorInfo metadata (nil when there is none).
func (e *RPCError) Metadata() map[string]string { return e.metadata }

// FieldViolations are the invalid fields the server named, in its order.
func (e *RPCError) FieldViolations() []FieldViolation { return e.violations }

// Fields are the paths of the field violations ("inputs.a", ...).
func (e *RPCError) Fields() []string {
	fields := make([]string, len(e.violations))
	for i, v := range e.violations {
		fields[i] = v.Field
	}
	return fields
}

// RetryDelay is how long the server asks the client to wait before trying
// again, and whether it said so (a RetryInfo detail).
func (e *RPCError) RetryDelay() (time.Duration, bool) { return e.retryDelay, e.hasRetry }

// GRPCStatus returns the status, which makes status.FromError work.
func (e *RPCError) GRPCStatus() *status.Status { return e.status }

// Unwrap returns the error the gRPC call returned.
func (e *RPCError) Unwrap() error { return e.err }

// Error describes the status: code, message, reason and field violations.
func (e *RPCError) Error() string {
	var b strings.Builder
	b.WriteString("ophost: ")
	b.WriteString(e.Code().String())
	if msg := e.Message(); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.reason != "" {
		fmt.Fprintf(&b, " [%s]", e.reason)
	}
	for _, v := range e.violations {
		fmt.Fprintf(&b, "; %s: %s", v.Field, v.Description)
	}
	return b.String()
}

// ValueError is a value that cannot be converted: a Go value with no wire
// form (a chan, a func, a struct, a string that is not UTF-8, containers
// nested too deep, ...), or a wire value that cannot be decoded.
type ValueError struct {
	// Op is the op the value was meant for ("" when not known).
	Op string
	// Path locates the value: "inputs.rows[2].x", "config.db", or, for
	// EncodeValue and DecodeValue, the place inside the value given ("" for
	// the value itself).
	Path string
	// Type is the Go type of the value that could not be converted ("" when
	// decoding).
	Type string
	// Reason says what is wrong.
	Reason string
}

func valueErr(path string, v any, reason string) *ValueError {
	return &ValueError{Path: path, Type: fmt.Sprintf("%T", v), Reason: reason}
}

// Input is the name of the op input the value belongs to, taken from Path
// ("rows" for "inputs.rows[2].x"), or "" when the value is not an input.
func (e *ValueError) Input() string {
	rest, ok := strings.CutPrefix(e.Path, "inputs.")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, ".[{"); i >= 0 {
		return rest[:i]
	}
	return rest
}

// Error names the op, the path and the type, and says what is wrong.
func (e *ValueError) Error() string {
	var b strings.Builder
	b.WriteString("ophost: ")
	if e.Op != "" {
		fmt.Fprintf(&b, "op %q: ", e.Op)
	}
	what := "the value"
	if e.Path != "" {
		what = e.Path
	}
	fmt.Fprintf(&b, "cannot convert %s", what)
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// ErrorData is an exception an op raised, as the server reported it: the
// Python class name, the message, the traceback and the chain of causes. It
// is an error, and errors.Unwrap follows its cause (or context).
type ErrorData struct {
	// TypeName is the qualified class name, for example "builtins.ValueError".
	TypeName string
	// Message is the exception's message.
	Message string
	// Stack is the traceback, one formatted frame per element, most recent
	// call last.
	Stack []string
	// Cause is the explicit cause ("raise ... from cause"), if any.
	Cause *ErrorData
	// Context is the exception being handled when this one was raised; set
	// only when Cause is nil and Python would print it.
	Context *ErrorData
	// ErrorID is set when the host withheld the error's details (`ophost
	// serve --withhold-errors`): Message then only says so, Stack is empty,
	// and the causes keep their TypeName alone. The host's log has the full
	// error under this id; quote it to whoever runs the host.
	ErrorID string
}

func newErrorData(e *ophostv1.ErrorData) *ErrorData {
	if e == nil {
		return nil
	}
	return &ErrorData{
		TypeName: e.GetTypeName(),
		Message:  e.GetMessage(),
		Stack:    e.GetStack(),
		Cause:    newErrorData(e.GetCause()),
		Context:  newErrorData(e.GetContext()),
		ErrorID:  e.GetErrorId(),
	}
}

// Chain returns the error followed by its causes, outermost first (following
// Cause when set, else Context).
func (e *ErrorData) Chain() []*ErrorData {
	var chain []*ErrorData
	for cur := e; cur != nil; cur = cur.next() {
		chain = append(chain, cur)
	}
	return chain
}

func (e *ErrorData) next() *ErrorData {
	if e.Cause != nil {
		return e.Cause
	}
	return e.Context
}

// Error is "TypeName: Message", followed by "(error id ID)" when the
// details were withheld and Message does not already name the id.
func (e *ErrorData) Error() string {
	text := e.TypeName + ": " + e.Message
	if e.ErrorID != "" && !strings.Contains(e.Message, e.ErrorID) {
		text += " (error id " + e.ErrorID + ")"
	}
	return text
}

// Unwrap returns the cause, or the context when there is no cause.
func (e *ErrorData) Unwrap() error {
	if next := e.next(); next != nil {
		return next
	}
	return nil
}

// OpFailedError is returned by Call and Execution.Result when the op failed
// (after its retries, if it has any). Errors.As with *ErrorData reaches the
// op's exception.
type OpFailedError struct {
	// ExecutionID is the failed execution.
	ExecutionID string
	// OpName is the op that failed.
	OpName string
	// Failure is the last StepFailed event; nil when the stream did not show
	// it (an attach after it).
	Failure *StepFailed
	// Finished is the terminal event.
	Finished *ExecutionFinished
	// Err is the exception that failed the op, with its causes.
	Err *ErrorData
}

// Error names the execution and op, and the exception that failed it.
func (e *OpFailedError) Error() string {
	msg := fmt.Sprintf("ophost: execution %s of op %q failed", e.ExecutionID, e.OpName)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Failure != nil && e.Failure.UserFailure != nil && e.Failure.UserFailure.Description != nil {
		if d := *e.Failure.UserFailure.Description; e.Err == nil || d != e.Err.Message {
			msg += " (" + d + ")"
		}
	}
	return msg
}

// Unwrap returns the op's exception.
func (e *OpFailedError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// ExecutionCanceledError is returned by Call and Execution.Result when the
// execution was canceled.
type ExecutionCanceledError struct {
	// ExecutionID is the canceled execution.
	ExecutionID string
	// OpName is its op.
	OpName string
	// Outcome says how the op was stopped (docs/protocol.md §10.4).
	Outcome ophostv1.CancelOutcome
	// Finished is the terminal event.
	Finished *ExecutionFinished
}

// Error names the execution and op, and how it was stopped.
func (e *ExecutionCanceledError) Error() string {
	return fmt.Sprintf("ophost: execution %s of op %q was canceled (%s)", e.ExecutionID, e.OpName,
		strings.ToLower(strings.TrimPrefix(e.Outcome.String(), "CANCEL_OUTCOME_")))
}

// StreamBrokenError is returned by an event stream whose connection broke
// and that could not re-attach within its attempts. Attach with
// LastSequence to carry on later.
type StreamBrokenError struct {
	// ExecutionID is the execution whose events were streaming.
	ExecutionID string
	// LastSequence is the last event sequence fully received (a resume point:
	// never inside the chunks of an output).
	LastSequence uint64
	// Attempts is how many re-attach attempts were made in a row.
	Attempts int
	// Err is the error of the last attempt (nil when the stream ended early
	// without an error).
	Err error
}

// Error says where the stream broke and why re-attaching gave up.
func (e *StreamBrokenError) Error() string {
	msg := fmt.Sprintf("ophost: the event stream of execution %s broke after sequence %d; %d re-attach attempt(s) failed",
		e.ExecutionID, e.LastSequence, e.Attempts)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the error of the last attempt.
func (e *StreamBrokenError) Unwrap() error { return e.Err }

// ProtocolError is a server that broke the protocol: a gap in the event
// sequence, chunks that do not match their reference, a value that does not
// decode.
type ProtocolError struct {
	// ExecutionID is the execution concerned ("" before it was accepted).
	ExecutionID string
	// Message says what was wrong.
	Message string
}

// Error says what the server sent that the protocol does not allow.
func (e *ProtocolError) Error() string {
	if e.ExecutionID == "" {
		return "ophost: protocol error: " + e.Message
	}
	return fmt.Sprintf("ophost: protocol error in execution %s: %s", e.ExecutionID, e.Message)
}
