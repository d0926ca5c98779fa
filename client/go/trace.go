package ophost

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// callConn is the connection a Client calls through. Every RPC carries the
// client's token, or its call's (see withToken), and the OpenTelemetry span
// of its context, if it has one, so the server's spans for the call (and
// for the execution it starts) are its children.
//
// What goes with the call is what the global propagator (otel.SetTextMapPropagator)
// writes, and always a W3C traceparent: the server reads traceparent, and the
// global propagator does nothing until a program sets one. Metadata the
// caller attached itself wins: a context whose outgoing metadata has a
// traceparent is sent as it is.
type callConn struct {
	grpc.ClientConnInterface
	token string
}

func (c callConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx, err := withToken(ctx, c.token)
	if err != nil {
		return err
	}
	return c.ClientConnInterface.Invoke(withTraceContext(ctx), method, args, reply, opts...)
}

func (c callConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, err := withToken(ctx, c.token)
	if err != nil {
		return nil, err
	}
	return c.ClientConnInterface.NewStream(withTraceContext(ctx), desc, method, opts...)
}

// withTraceContext is ctx with its span's context added to the outgoing
// metadata (ctx itself when it has no valid span context).
func withTraceContext(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	if len(md.Get("traceparent")) > 0 {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if carrier.Get("traceparent") == "" {
		propagation.TraceContext{}.Inject(ctx, carrier)
	}
	pairs := make([]string, 0, 2*len(carrier))
	for key, value := range carrier {
		pairs = append(pairs, key, value)
	}
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}
