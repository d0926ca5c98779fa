// Command benchload drives an ophost server with many concurrent Execute calls and
// prints how many finished per second. The store benchmarks (bench/stores.py) use it
// where a Python client would be the bottleneck: it costs far less CPU per call than
// the server, so the figure is the server's.
//
//	benchload -address 127.0.0.1:50051 -channels 8 -callers 32 -seconds 3
//
// It prints one JSON object: {"calls": N, "seconds": S, "per_second": R, "failed": F}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

type result struct {
	Calls     int64   `json:"calls"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	Failed    int64   `json:"failed"`
}

func main() {
	address := flag.String("address", "127.0.0.1:50051", "the server's host:port")
	channels := flag.Int("channels", 8, "connections to open (each its own TCP connection)")
	callers := flag.Int("callers", 32, "concurrent callers, spread over the connections")
	seconds := flag.Float64("seconds", 3, "how long the callers loop")
	warmup := flag.Float64("warmup", 0.5, "seconds of calls first, not counted")
	flag.Parse()
	if err := run(*address, *channels, *callers, *seconds, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}

func run(address string, channels, callers int, seconds, warmup float64) error {
	stubs := make([]ophostv1.OpHostServiceClient, channels)
	for i := range stubs {
		// A distinct user agent keeps each connection apart.
		conn, err := grpc.NewClient(address,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUserAgent(fmt.Sprintf("benchload-%d", i)))
		if err != nil {
			return err
		}
		defer conn.Close()
		stubs[i] = ophostv1.NewOpHostServiceClient(conn)
	}
	start := &ophostv1.ExecuteRequest{Kind: &ophostv1.ExecuteRequest_Start{Start: &ophostv1.ExecutionStart{
		OpName: "add",
		Inputs: []*ophostv1.NamedValue{
			{Name: "a", Value: &ophostv1.Value{Kind: &ophostv1.Value_IntValue{IntValue: 1}}},
			{Name: "b", Value: &ophostv1.Value{Kind: &ophostv1.Value_IntValue{IntValue: 2}}},
		},
	}}}
	if _, _, err := loop(stubs, start, callers, warmup); err != nil {
		return err
	}
	calls, failed, err := loop(stubs, start, callers, seconds)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{
		Calls: calls, Seconds: seconds, PerSecond: float64(calls) / seconds, Failed: failed,
	})
}

func loop(stubs []ophostv1.OpHostServiceClient, start *ophostv1.ExecuteRequest, callers int,
	seconds float64) (int64, int64, error) {
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		stub := stubs[c%len(stubs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := execute(stub, start); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 && calls.Load() == 0 {
		return 0, failed.Load(), fmt.Errorf("every call failed: %v", firstErr.Load())
	}
	return calls.Load(), failed.Load(), nil
}

func execute(stub ophostv1.OpHostServiceClient, start *ophostv1.ExecuteRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := stub.Execute(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(start); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
