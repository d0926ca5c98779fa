package ophost_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// The examples run against the server TestMain starts; serverAddress stands
// for an address such as "127.0.0.1:50051".

func ExampleClient_Call() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	outputs, err := client.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outputs["result"])
	// Output: 5
}

func ExampleClient_WaitForReady() {
	client, err := ophost.New(serverAddress) // no network I/O yet
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Wait up to 10 s for the server to answer (it may still be starting);
	// past that, the error is an *ophost.RPCError with code Unavailable.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.WaitForReady(ctx); err != nil {
		log.Fatal(err)
	}
	info, err := client.ServerInfo(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("protocol", info.GetProtocolVersion())
	// Output: protocol 1
}

// The context of a call carries its options: a deadline, cancelation, and
// the request headers (gRPC metadata).
func Example_callOptions() {
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "example-42")
	outputs, err := client.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outputs["result"])

	// A deadline that passes during the call ends it (the execution itself
	// carries on; slow_square takes a second here).
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	_, err = client.Call(short, "slow_square", map[string]any{"x": 3.0, "delay": 1.0})
	fmt.Println(status.Code(err), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// 5
	// DeadlineExceeded true
}

func ExampleExecution_Cancel() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	x, err := client.Execute(ctx, "long_running", map[string]any{"steps": 100},
		ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	for x.Next() {
		if _, ok := x.Event().(*ophost.LogMessage); ok {
			// Cancel at the first log line; canceling again at the next ones is harmless.
			if err := x.Cancel(ctx, "no longer needed"); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := x.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(x.Finished().Status, x.Finished().CancelOutcome)
	// Output: EXECUTION_STATUS_CANCELED CANCEL_OUTCOME_COOPERATIVE
}

func ExampleClient_Execute() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	x, err := client.Execute(ctx, "count_up", map[string]any{"n": 2})
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	for event, err := range x.Events() {
		if err != nil {
			log.Fatal(err)
		}
		switch e := event.(type) {
		case *ophost.LogMessage:
			fmt.Printf("%d log: %s\n", e.Sequence, e.Message)
		case *ophost.OutputProduced:
			fmt.Printf("%d output %s = %v\n", e.Sequence, e.OutputName, e.Value)
		case *ophost.ExecutionFinished:
			fmt.Printf("%d finished: %v\n", e.Sequence, e.Status)
		}
	}
	// Output:
	// 4 log: step 1 of 2
	// 5 log: step 2 of 2
	// 6 output result = 2
	// 8 finished: EXECUTION_STATUS_SUCCEEDED
}

func ExampleOpFailedError() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Call(ctx, "large_blob", map[string]any{"size_mb": -1})
	var failed *ophost.OpFailedError
	if errors.As(err, &failed) {
		fmt.Println(failed.Err.TypeName)
		fmt.Println(*failed.Failure.UserFailure.Description)
	}
	// Output:
	// ophost.Failure
	// size_mb must be 0 or more, got -1
}

func ExampleRPCError() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Call(ctx, "add", map[string]any{"a": "two", "b": 3})
	var rpcErr *ophost.RPCError
	if errors.As(err, &rpcErr) {
		fmt.Println(rpcErr.Code(), rpcErr.Reason(), rpcErr.Fields())
	}
	// Output: InvalidArgument INVALID_INPUT [inputs.a]
}

func ExampleValueError() {
	ctx := context.Background()
	client, err := ophost.New(serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Call(ctx, "publish_scores", map[string]any{"rows": []any{1, 2, make(chan int)}})
	var valueErr *ophost.ValueError
	if errors.As(err, &valueErr) {
		fmt.Println(valueErr.Op, valueErr.Path)
		fmt.Println(err)
	}
	// Output:
	// publish_scores inputs.rows[2]
	// ophost: op "publish_scores": cannot convert inputs.rows[2] (chan int): the type has no wire form
}

func ExampleEncodeValue() {
	value, err := ophost.EncodeValue(ophost.Map{
		{Key: "name", Value: "ada"},
		{Key: ophost.Tuple{1, 2}, Value: []byte("xy")},
	})
	if err != nil {
		log.Fatal(err)
	}
	decoded, err := ophost.DecodeValue(value)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v\n", decoded)
	// Output: [{name ada} {[1 2] [120 121]}]
}

// A client of a server that speaks mTLS and asks for tokens (`ophost serve
// --tls-cert ... --tls-client-ca ... --token-file ...`), and one call made
// as another identity.
func ExampleWithCallToken() {
	client, err := ophost.New("ops.example.com:50051",
		ophost.WithTLSRootsFile("ca.pem"),
		ophost.WithTLSClientCertFiles("client.pem", "client.key"),
		ophost.WithToken("the-token-of-this-service"))
	if err != nil {
		log.Fatal(err) // a file that is missing or not PEM, a bad token
	}
	defer client.Close()

	ctx := context.Background()
	ops, err := client.ListOps(ophost.WithCallToken(ctx, "an-operators-token"))
	var rpcErr *ophost.RPCError
	if errors.As(err, &rpcErr) && rpcErr.Reason() == "PERMISSION_DENIED" {
		log.Fatalf("identity %s may not %s", rpcErr.Metadata()["identity"], rpcErr.Metadata()["action"])
	}
	fmt.Println(len(ops), "ops")
}
