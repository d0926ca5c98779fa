package ophost

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

func spanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	traceID, err := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	if err != nil {
		t.Fatal(err)
	}
	spanID, err := trace.SpanIDFromHex("b7ad6b7169203331")
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	})
}

func TestTraceContextGoesWithTheCallsOfAContextWithASpan(t *testing.T) {
	ctx := trace.ContextWithSpanContext(context.Background(), spanContext(t))
	md, _ := metadata.FromOutgoingContext(withTraceContext(ctx))
	got := md.Get("traceparent")
	want := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("traceparent = %q, want [%q]", got, want)
	}
}

func TestNoTraceContextWithoutASpan(t *testing.T) {
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-user", "1")
	if out := withTraceContext(ctx); out != ctx {
		md, _ := metadata.FromOutgoingContext(out)
		t.Fatalf("the context changed without a span: %v", md)
	}
}

func TestTheCallersOwnTraceparentWins(t *testing.T) {
	mine := "00-11111111111111111111111111111111-2222222222222222-01"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", mine)
	ctx = trace.ContextWithSpanContext(ctx, spanContext(t))
	md, _ := metadata.FromOutgoingContext(withTraceContext(ctx))
	if got := md.Get("traceparent"); len(got) != 1 || got[0] != mine {
		t.Fatalf("traceparent = %q, want only the caller's", got)
	}
}
