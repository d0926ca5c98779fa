package ophost_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

func TestListAndGetOps(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	ops, err := client.ListOps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, op := range ops {
		names = append(names, op.GetName())
	}
	want := []string{"add", "parse_csv", "summarize", "publish_scores", "flaky_fetch", "count_up",
		"slow_square", "long_running", "large_blob", "top_scores"}
	if !slices.Equal(names, want) {
		t.Errorf("ListOps names = %v, want %v", names, want)
	}

	add, err := client.GetOp(ctx, "add")
	if err != nil {
		t.Fatal(err)
	}
	if got := add.GetDescription(); got != "Add two integers." {
		t.Errorf("add description = %q", got)
	}
	if len(add.GetInputs()) != 2 {
		t.Fatalf("add inputs = %v", add.GetInputs())
	}
	for i, name := range []string{"a", "b"} {
		in := add.GetInputs()[i]
		if in.GetName() != name || !in.GetRequired() || in.GetType().GetScalarType() != ophostv1.ScalarKind_SCALAR_KIND_INT {
			t.Errorf("input %d = %v, want required Int %q", i, in, name)
		}
	}
	if out := add.GetOutputs(); len(out) != 1 || out[0].GetName() != "result" {
		t.Errorf("add outputs = %v", out)
	}

	blob, err := client.GetOp(ctx, "large_blob")
	if err != nil {
		t.Fatal(err)
	}
	def, err := ophost.DecodeValue(blob.GetInputs()[0].GetDefaultValue())
	if err != nil || def != int64(64) {
		t.Errorf("large_blob size_mb default = %v (%v), want 64", def, err)
	}

	info, err := client.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.GetProtocolVersion() != "1" || !slices.Contains(info.GetCapabilities(), "chunked_upload") {
		t.Errorf("server info = %v", info)
	}
}

func TestCallAdd(t *testing.T) {
	client := newTestClient(t, "")
	outputs, err := client.Call(testContext(t), "add", map[string]any{"a": 2, "b": uint8(3)})
	if err != nil {
		t.Fatal(err)
	}
	if got := outputs["result"]; got != int64(5) {
		t.Errorf("add(2, 3) = %#v, want int64(5)", got)
	}
}

// eventKinds describes events compactly: "LogMessage:step 1 of 3".
func eventKinds(events []ophost.Event) []string {
	var kinds []string
	for _, e := range events {
		kind := strings.TrimPrefix(fmt.Sprintf("%T", e), "*ophost.")
		switch e := e.(type) {
		case *ophost.LogMessage:
			kind += ":" + e.Message
		case *ophost.InputChecked:
			kind += fmt.Sprintf(":%s:%t", e.InputName, e.TypeCheck.Success)
		case *ophost.OutputProduced:
			kind += fmt.Sprintf(":%s=%v", e.OutputName, e.Value)
		case *ophost.ExecutionFinished:
			kind += ":" + e.Status.String()
		}
		kinds = append(kinds, kind)
	}
	return kinds
}

func collect(t *testing.T, x *ophost.Execution) []ophost.Event {
	t.Helper()
	var events []ophost.Event
	for event, err := range x.Events() {
		if err != nil {
			t.Fatalf("stream of %s: %v", x.ID(), err)
		}
		events = append(events, event)
	}
	return events
}

func checkSequences(t *testing.T, events []ophost.Event, first uint64) {
	t.Helper()
	for i, e := range events {
		if got := e.Info().Sequence; got != first+uint64(i) {
			t.Fatalf("event %d has sequence %d, want %d", i, got, first+uint64(i))
		}
	}
}

func TestExecuteCountUpEvents(t *testing.T) {
	client := newTestClient(t, "")
	x, err := client.Execute(testContext(t), "count_up", map[string]any{"n": 3}, ophost.WithTags(map[string]string{"team": "go"}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.ID() == "" || x.Accepted().GetOpName() != "count_up" || x.Accepted().GetTags()["team"] != "go" {
		t.Errorf("accepted = %v", x.Accepted())
	}
	events := collect(t, x)
	want := []string{
		"ExecutionStarted", "StepStarted", "InputChecked:n:true",
		"LogMessage:step 1 of 3", "LogMessage:step 2 of 3", "LogMessage:step 3 of 3",
		"OutputProduced:result=3", "StepSucceeded", "ExecutionFinished:EXECUTION_STATUS_SUCCEEDED",
	}
	if got := eventKinds(events); !slices.Equal(got, want) {
		t.Errorf("events =\n%v\nwant\n%v", got, want)
	}
	checkSequences(t, events, 1)
	for _, e := range events {
		if info := e.Info(); info.Attempt != 0 || info.ExecutionID != x.ID() || info.OpName != "count_up" || info.Time.IsZero() {
			t.Errorf("envelope %+v", info)
		}
	}
	if got := x.Outputs(); got["result"] != int64(3) {
		t.Errorf("Outputs() = %v", got)
	}
	if x.LastSequence() != uint64(len(events)) {
		t.Errorf("LastSequence() = %d, want %d", x.LastSequence(), len(events))
	}
}

func TestRetriesAreEvents(t *testing.T) {
	client := newTestClient(t, "")
	x, err := client.Execute(testContext(t), "flaky_fetch", map[string]any{"url": "db://x"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	events := collect(t, x)
	var retries []*ophost.RetryScheduled
	restarts := 0
	for _, e := range events {
		switch e := e.(type) {
		case *ophost.RetryScheduled:
			retries = append(retries, e)
		case *ophost.StepRestarted:
			restarts++
		}
	}
	if len(retries) != 2 || restarts != 2 {
		t.Fatalf("retries %d, restarts %d, want 2 and 2: %v", len(retries), restarts, eventKinds(events))
	}
	if r := retries[1]; r.FailedAttempt != 1 || r.NextAttempt != 2 || r.Error.TypeName != "builtins.ConnectionError" ||
		math.Abs(r.DelaySeconds-0.6) > 1e-9 {
		t.Errorf("second retry = %+v (error %v)", r, r.Error)
	}
	last := events[len(events)-1]
	if last.Info().Attempt != 2 {
		t.Errorf("final attempt = %d, want 2", last.Info().Attempt)
	}
	outputs, err := x.Result()
	if err != nil || outputs["result"] != "contents of db://x" {
		t.Errorf("Result() = %v, %v", outputs, err)
	}
}

func TestOpFailure(t *testing.T) {
	client := newTestClient(t, "")
	_, err := client.Call(testContext(t), "large_blob", map[string]any{"size_mb": -1})
	var failed *ophost.OpFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("Call error = %v (%T), want *OpFailedError", err, err)
	}
	if failed.OpName != "large_blob" || failed.ExecutionID == "" || failed.Finished.Status != ophostv1.ExecutionStatus_EXECUTION_STATUS_FAILED {
		t.Errorf("OpFailedError = %+v", failed)
	}
	if failed.Failure == nil || failed.Failure.UserFailure == nil || *failed.Failure.UserFailure.Description != "size_mb must be 0 or more, got -1" {
		t.Errorf("Failure = %+v", failed.Failure)
	}
	if failed.Failure.Source != ophostv1.ErrorSource_ERROR_SOURCE_USER_CODE || failed.Failure.WillRetry {
		t.Errorf("Failure source %v, will retry %t", failed.Failure.Source, failed.Failure.WillRetry)
	}
	var data *ophost.ErrorData
	if !errors.As(err, &data) || !strings.HasSuffix(data.TypeName, "Failure") || len(data.Stack) == 0 {
		t.Errorf("errors.As(*ErrorData) = %+v", data)
	}
	if !strings.Contains(err.Error(), "size_mb must be 0 or more") {
		t.Errorf("message %q does not say why", err)
	}
}

func TestAttach(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	x, err := client.Execute(ctx, "count_up", map[string]any{"n": 2})
	if err != nil {
		t.Fatal(err)
	}
	all := collect(t, x)

	again, err := client.Attach(ctx, x.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	replayed := collect(t, again)
	if !slices.Equal(eventKinds(replayed), eventKinds(all)) {
		t.Errorf("replay = %v, want %v", eventKinds(replayed), eventKinds(all))
	}
	tail, err := client.Attach(ctx, x.ID(), 3)
	if err != nil {
		t.Fatal(err)
	}
	rest := collect(t, tail)
	checkSequences(t, rest, 4)
	if !slices.Equal(eventKinds(rest), eventKinds(all[3:])) {
		t.Errorf("after 3 = %v", eventKinds(rest))
	}

	missing, err := client.Attach(ctx, "no-such-execution", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = missing.Result()
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.NotFound || rpcErr.Reason() != "EXECUTION_NOT_FOUND" {
		t.Errorf("attach to unknown id: %v", err)
	}
}

func TestRequestIDIsIdempotent(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	id := fmt.Sprintf("go-test-%d", rand64())
	first, err := client.Execute(ctx, "add", map[string]any{"a": 1, "b": 2}, ophost.WithRequestID(id))
	if err != nil {
		t.Fatal(err)
	}
	collect(t, first)
	second, err := client.Execute(ctx, "add", map[string]any{"a": 1, "b": 2}, ophost.WithRequestID(id))
	if err != nil {
		t.Fatal(err)
	}
	events := collect(t, second)
	if second.ID() != first.ID() || len(events) == 0 || events[0].(*ophost.ExecutionStarted).RequestID != id {
		t.Errorf("second start: id %s vs %s, events %v", second.ID(), first.ID(), eventKinds(events))
	}
	_, err = client.Execute(ctx, "add", map[string]any{"a": 1, "b": 5}, ophost.WithRequestID(id))
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.FailedPrecondition || rpcErr.Reason() != "REQUEST_ID_CONFLICT" {
		t.Errorf("conflicting start: %v", err)
	}
}

func TestLargeOutputIsReassembled(t *testing.T) {
	client := newTestClient(t, "")
	outputs, err := client.Call(testContext(t), "large_blob", map[string]any{"size_mb": 16})
	if err != nil {
		t.Fatal(err)
	}
	checkBlob(t, outputs["result"], 16)
}

func checkBlob(t *testing.T, value any, sizeMB int) {
	t.Helper()
	blob, ok := value.([]byte)
	if !ok {
		t.Fatalf("large_blob result is %T", value)
	}
	pattern := make([]byte, 256)
	for i := range pattern {
		pattern[i] = byte(i)
	}
	if want := bytes.Repeat(pattern, 4096*sizeMB); !bytes.Equal(blob, want) {
		t.Fatalf("large_blob result: %d bytes, not the expected %d", len(blob), len(want))
	}
}

func TestLargeInputIsUploadedInChunks(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	values := make([]float64, 200_000)
	for i := range values {
		values[i] = float64(i % 10)
	}
	encoded, err := ophost.EncodeValue(values)
	if err != nil {
		t.Fatal(err)
	}
	info, err := client.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size := proto.Size(encoded); size <= int(info.GetLimits().GetInlineThresholdBytes()) {
		t.Fatalf("the input is %d bytes: too small to be chunked", size)
	}
	outputs, err := client.Call(ctx, "summarize", map[string]any{"values": values})
	if err != nil {
		t.Fatal(err)
	}
	if outputs["mean"] != 4.5 || math.Abs(outputs["spread"].(float64)-math.Sqrt(8.25)) > 1e-9 {
		t.Errorf("summarize = %v", outputs)
	}
}

func TestTypedErrors(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)

	_, err := client.Call(ctx, "no_such_op", nil)
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.NotFound || rpcErr.Reason() != "OP_NOT_FOUND" || rpcErr.Domain() != "ophost" {
		t.Errorf("unknown op: %v", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("status.Code = %v", status.Code(err))
	}
	if _, err := client.GetOp(ctx, "no_such_op"); status.Code(err) != codes.NotFound {
		t.Errorf("GetOp unknown: %v", err)
	}

	_, err = client.Call(ctx, "add", map[string]any{"a": "two", "b": 3})
	if !errors.As(err, &rpcErr) || rpcErr.Code() != codes.InvalidArgument || rpcErr.Reason() != "INVALID_INPUT" ||
		!slices.Equal(rpcErr.Fields(), []string{"inputs.a"}) {
		t.Errorf("bad input: %v", err)
	}
	if !strings.Contains(err.Error(), "inputs.a") {
		t.Errorf("message %q does not name the input", err)
	}

	_, err = client.Call(ctx, "publish_scores", map[string]any{"rows": []any{1, 2, map[string]any{"x": make(chan int)}}})
	var valueErr *ophost.ValueError
	if !errors.As(err, &valueErr) || valueErr.Op != "publish_scores" || valueErr.Path != "inputs.rows[2].x" ||
		valueErr.Input() != "rows" || valueErr.Type != "chan int" {
		t.Errorf("unconvertible input: %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"publish_scores"`) || !strings.Contains(msg, "inputs.rows[2].x") {
		t.Errorf("message %q", msg)
	}
}

func TestClosedClient(t *testing.T) {
	client := newTestClient(t, "")
	ctx := testContext(t)
	x, err := client.Execute(ctx, "long_running", map[string]any{"steps": 100}, ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	for x.Next() {
	}
	if !errors.Is(x.Err(), ophost.ErrClosed) {
		t.Errorf("open stream after Close: %v", x.Err())
	}
	if _, err := client.Call(ctx, "add", map[string]any{"a": 1, "b": 2}); !errors.Is(err, ophost.ErrClosed) {
		t.Errorf("Call after Close: %v", err)
	}
	if _, err := client.ListOps(ctx); !errors.Is(err, ophost.ErrClosed) {
		t.Errorf("ListOps after Close: %v", err)
	}
	if _, err := client.Attach(ctx, x.ID(), 0); !errors.Is(err, ophost.ErrClosed) {
		t.Errorf("Attach after Close: %v", err)
	}
	// The execution itself is still there: cancel it from another client.
	other := newTestClient(t, "")
	if _, err := other.Cancel(ctx, x.ID(), "test over"); err != nil {
		t.Error(err)
	}
}

func TestAssetEventsAreTyped(t *testing.T) {
	client := newTestClient(t, "")
	x, err := client.Execute(testContext(t), "publish_scores", map[string]any{"rows": []any{[]any{"ada", "91"}, []any{"alan", "88"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	events := collect(t, x)
	var observed []*ophost.AssetObserved
	var materialized []*ophost.AssetMaterialized
	for _, e := range events {
		switch e := e.(type) {
		case *ophost.AssetObserved:
			observed = append(observed, e)
		case *ophost.AssetMaterialized:
			materialized = append(materialized, e)
		}
	}
	if len(observed) != 1 || len(materialized) != 1 {
		t.Fatalf("observed %d, materialized %d; events %v", len(observed), len(materialized), eventKinds(events))
	}
	o := observed[0]
	if !slices.Equal(o.AssetKey, []string{"sources", "scores"}) || o.Description == nil || *o.Description != "The rows received" || o.Partition != nil {
		t.Errorf("observation = %+v", o)
	}
	if len(o.Metadata) != 1 || o.Metadata[0].GetLabel() != "rows" || o.Metadata[0].GetValue().GetIntValue().GetIntValue() != 2 {
		t.Errorf("observation metadata = %v", o.Metadata)
	}
	if o.Info().Sequence >= materialized[0].Info().Sequence {
		t.Errorf("the observation (%d) should come before the materialization (%d)", o.Info().Sequence, materialized[0].Info().Sequence)
	}
}
