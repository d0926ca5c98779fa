// Command tracecall calls ops inside an OpenTelemetry span of its own and
// prints that span's ids, so that a test can check that the server's spans
// continue the trace the Go client started.
//
//	tracecall -address 127.0.0.1:50051 -op add -inputs '{"a": 1, "b": 2}'
//
// It starts a span named "go-client" with the OpenTelemetry SDK (no exporter:
// the span only has to exist), lists the server's ops and calls the op in it,
// and prints one JSON object:
// {"trace_id": "...", "span_id": "...", "outputs": {...}}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	ophost "github.com/ophost-dev/ophost/client/go"
)

type result struct {
	TraceID string         `json:"trace_id"`
	SpanID  string         `json:"span_id"`
	Outputs map[string]any `json:"outputs"`
}

func main() {
	address := flag.String("address", "127.0.0.1:50051", "the server's host:port")
	op := flag.String("op", "add", "the op to call")
	inputs := flag.String("inputs", "{}", "the op's inputs, as a JSON object")
	flag.Parse()
	if err := run(*address, *op, *inputs); err != nil {
		fmt.Fprintln(os.Stderr, "tracecall:", err)
		os.Exit(1)
	}
}

func run(address, op, inputsJSON string) error {
	inputs, err := decodeInputs(inputsJSON)
	if err != nil {
		return fmt.Errorf("-inputs: %w", err)
	}
	provider := sdktrace.NewTracerProvider()
	defer func() { _ = provider.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := provider.Tracer("tracecall").Start(ctx, "go-client")
	defer span.End()

	client, err := ophost.New(address)
	if err != nil {
		return err
	}
	defer client.Close()
	if _, err := client.ListOps(ctx); err != nil {
		return err
	}
	outputs, err := client.Call(ctx, op, inputs)
	if err != nil {
		return err
	}
	ids := span.SpanContext()
	return json.NewEncoder(os.Stdout).Encode(result{
		TraceID: ids.TraceID().String(),
		SpanID:  ids.SpanID().String(),
		Outputs: outputs,
	})
}

// decodeInputs reads a JSON object; whole numbers become int64 (the client
// sends a float64 as a float, which an int input refuses).
func decodeInputs(text string) (map[string]any, error) {
	decoder := json.NewDecoder(strings.NewReader(text))
	decoder.UseNumber()
	var inputs map[string]any
	if err := decoder.Decode(&inputs); err != nil {
		return nil, err
	}
	for name, value := range inputs {
		if number, ok := value.(json.Number); ok {
			if whole, err := number.Int64(); err == nil {
				inputs[name] = whole
			} else if fraction, err := number.Float64(); err == nil {
				inputs[name] = fraction
			}
		}
	}
	return inputs, nil
}
