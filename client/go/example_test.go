package ophost_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// The examples run against the server TestMain starts; serverAddress stands
// for an address such as "127.0.0.1:50051".

func ExampleClient_Call() {
	ctx := context.Background()
	client, err := ophost.Dial(ctx, serverAddress)
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

func ExampleClient_Execute() {
	ctx := context.Background()
	client, err := ophost.Dial(ctx, serverAddress)
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
	client, err := ophost.Dial(ctx, serverAddress)
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
	client, err := ophost.Dial(ctx, serverAddress)
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
	client, err := ophost.Dial(ctx, serverAddress)
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
