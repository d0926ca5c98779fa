package ophost_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// twoServers starts two more `ophost serve` processes, each with a store of
// its own (independent servers, not replicas: neither knows what the other
// ran), and returns their addresses and their server ids.
func twoServers(t *testing.T) (addrs, ids [2]string) {
	t.Helper()
	dir := t.TempDir()
	return startServers(t, [2]string{
		sqliteStore(filepath.Join(dir, "first.db")),
		sqliteStore(filepath.Join(dir, "second.db")),
	})
}

// startServers starts two `ophost serve` processes, the i-th with the store
// stores[i] and the extra arguments, stops them at the end of the test, and
// returns their addresses and their server ids, each from a client of that
// server alone. Servers of one store start one after the other: two that
// open a new SQLite file at the same moment may fail ("database is
// locked", from switching it to WAL mode), so the first creates it.
func startServers(t *testing.T, stores [2]string, extra ...string) (addrs, ids [2]string) {
	t.Helper()
	type started struct {
		i    int
		cmd  *exec.Cmd
		addr string
		err  error
	}
	oneByOne := stores[0] == stores[1]
	results := make(chan started, 2)
	for i, store := range stores {
		start := func() {
			cmd, addr, err := startServer(append([]string{"--store", store}, extra...)...)
			results <- started{i, cmd, addr, err}
		}
		if oneByOne {
			start()
		} else {
			go start()
		}
	}
	var failed []error
	for range stores {
		r := <-results
		if r.err != nil {
			failed = append(failed, r.err)
			continue
		}
		t.Cleanup(func() { stopServer(r.cmd) })
		addrs[r.i] = r.addr
	}
	if failed != nil { // after the cleanups: the one that started is stopped too
		t.Fatalf("starting the servers: %v", errors.Join(failed...))
	}
	for i, addr := range addrs {
		info, err := newTestClient(t, addr).ServerInfo(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = info.GetServerId()
	}
	return addrs, ids
}

// servedBy asks client for the server's id until both ids have answered (a
// round-robin connection sends calls only to the servers it has connected
// to, so the first ones may all go to one), then counts 20 more answers.
func servedBy(t *testing.T, client *ophost.Client, ids [2]string) map[string]int {
	t.Helper()
	ctx := testContext(t)
	if err := client.WaitForReady(ctx); err != nil {
		t.Fatal(err)
	}
	ask := func() string {
		info, err := client.ServerInfo(ctx)
		if err != nil {
			t.Fatalf("ServerInfo: %v", err)
		}
		return info.GetServerId()
	}
	seen := map[string]bool{}
	for !seen[ids[0]] || !seen[ids[1]] {
		if ctx.Err() != nil {
			t.Fatalf("only %v of %v answered before the test's deadline", seen, ids)
		}
		seen[ask()] = true
	}
	counts := map[string]int{}
	for range 20 {
		counts[ask()]++
	}
	return counts
}

func TestSeveralServers(t *testing.T) {
	addrs, ids := twoServers(t)
	both := addrs[0] + "," + addrs[1]

	for _, target := range []string{both, addrs[0] + " , " + addrs[1], "ipv4:" + both} {
		t.Run("balances "+target, func(t *testing.T) {
			counts := servedBy(t, newTestClient(t, target), ids)
			// Both served some of the 20 calls; round robin is not asserted
			// to alternate exactly.
			if counts[ids[0]] == 0 || counts[ids[1]] == 0 || len(counts) != 2 {
				t.Errorf("20 calls were served %v, want some by each of %v", counts, ids)
			}
		})
	}

	t.Run("runs ops", func(t *testing.T) {
		client := newTestClient(t, both)
		servedBy(t, client, ids)
		ctx := testContext(t)
		var executions []string
		for i := range 6 {
			x, err := client.Execute(ctx, "add", map[string]any{"a": i, "b": 10})
			if err != nil {
				t.Fatal(err)
			}
			outputs, err := x.Result()
			if err != nil || outputs["result"] != int64(i+10) {
				t.Fatalf("add(%d, 10) = %v, %v", i, outputs, err)
			}
			executions = append(executions, x.ID())
			x.Close()
		}
		events := collect(t, mustExecute(t, client, "count_up", map[string]any{"n": 3}))
		if last := eventKinds(events)[len(events)-1]; last != "ExecutionFinished:EXECUTION_STATUS_SUCCEEDED" {
			t.Errorf("count_up ended with %s", last)
		}
		checkSequences(t, events, 1)

		// Each server ran some of the executions: it knows them, the other
		// (an independent server, not a replica) does not.
		ran := [2]int{}
		for i, addr := range addrs {
			alone := newTestClient(t, addr)
			for _, id := range executions {
				_, err := alone.GetExecution(ctx, id)
				var rpcErr *ophost.RPCError
				switch {
				case err == nil:
					ran[i]++
				case errors.As(err, &rpcErr) && rpcErr.Code() == codes.NotFound:
				default:
					t.Fatalf("GetExecution(%s) on %s: %v", id, addr, err)
				}
			}
		}
		if ran[0]+ran[1] != len(executions) || ran[0] == 0 || ran[1] == 0 {
			t.Errorf("the servers ran %v of %d executions, want some each and all in total", ran, len(executions))
		}
	})

	t.Run("one address as before", func(t *testing.T) {
		client := newTestClient(t, addrs[1])
		ctx := testContext(t)
		for range 5 {
			info, err := client.ServerInfo(ctx)
			if err != nil || info.GetServerId() != ids[1] {
				t.Fatalf("ServerInfo = %v, %v; want server %s", info, err, ids[1])
			}
		}
		if outputs, err := client.Call(ctx, "add", map[string]any{"a": 1, "b": 2}); err != nil || outputs["result"] != int64(3) {
			t.Errorf("Call(add) = %v, %v", outputs, err)
		}
	})

	t.Run("dns target", func(t *testing.T) {
		// localhost may also resolve to ::1, where nothing listens: round
		// robin sends calls to the addresses it could connect to.
		port := addrs[0][strings.LastIndex(addrs[0], ":")+1:]
		client := newTestClient(t, "dns:///localhost:"+port)
		ctx := testContext(t)
		if err := client.WaitForReady(ctx); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			info, err := client.ServerInfo(ctx)
			if err != nil || info.GetServerId() != ids[0] {
				t.Fatalf("ServerInfo = %v, %v; want server %s", info, err, ids[0])
			}
		}
	})
}

func mustExecute(t *testing.T, client *ophost.Client, op string, inputs map[string]any) *ophost.Execution {
	t.Helper()
	x, err := client.Execute(testContext(t), op, inputs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	return x
}

func TestMalformedAddressList(t *testing.T) {
	for _, target := range []string{
		"127.0.0.1:1,",
		"127.0.0.1:1,localhost",
		"127.0.0.1:1,:2",
		"127.0.0.1:1,host:0",
		"ipv4:127.0.0.1:1,nope",
	} {
		client, err := ophost.New(target)
		if err == nil {
			_ = client.Close()
			t.Errorf("New(%q) made a client, want an error", target)
			continue
		}
		if want := "each address must be host:port"; !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q): %v, want it to say %q", target, err, want)
		}
	}
}

func ExampleNew_severalServers() {
	// Two replicas of one host; the calls alternate between them. (Here the
	// same server twice.)
	client, err := ophost.New(serverAddress + "," + serverAddress)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	outputs, err := client.Call(context.Background(), "add", map[string]any{"a": 2, "b": 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outputs["result"])
	// Output: 5
}
