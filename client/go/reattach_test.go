package ophost_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ophost "github.com/ophost-dev/ophost/client/go"
)

func rand64() int64 { return time.Now().UnixNano() }

// resetProxy forwards TCP connections to a server and resets (RST) a
// connection once it has carried more than limit bytes from the server, at
// most resets times in all.
type resetProxy struct {
	listener net.Listener
	target   string
	limit    atomic.Int64
	resets   atomic.Int32
	wg       sync.WaitGroup
}

func startResetProxy(t *testing.T, target string, limit int64, resets int32) *resetProxy {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &resetProxy{listener: listener, target: target}
	p.limit.Store(limit)
	p.resets.Store(resets)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = listener.Close()
		p.wg.Wait()
	})
	return p
}

func (p *resetProxy) addr() string { return p.listener.Addr().String() }

func (p *resetProxy) serve() {
	defer p.wg.Done()
	for {
		conn, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(conn.(*net.TCPConn))
	}
}

func (p *resetProxy) forward(client *net.TCPConn) {
	defer p.wg.Done()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	reset := func() {
		_ = client.SetLinger(0) // close with RST, as a dropped connection would
		_ = client.Close()
		_ = upstream.Close()
	}
	go func() {
		_, _ = io.Copy(upstream, client)
		reset()
	}()
	var carried int64
	buf := make([]byte, 32<<10)
	for {
		n, err := upstream.Read(buf)
		if n > 0 {
			carried += int64(n)
			if carried > p.limit.Load() && p.resets.Add(-1) >= 0 {
				reset()
				return
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	reset()
}

func TestReattachAfterReset(t *testing.T) {
	proxy := startResetProxy(t, serverAddress, 32<<10, 2)
	client := newTestClient(t, proxy.addr(), ophost.WithReattach(5, 50*time.Millisecond))
	x, err := client.Execute(testContext(t), "count_up", map[string]any{"n": 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	events := collect(t, x)
	checkSequences(t, events, 1)
	if proxy.resets.Load() > 0 {
		t.Fatalf("the proxy did not reset the connection (%d resets left)", proxy.resets.Load())
	}
	if x.Reattached() == 0 {
		t.Error("Reattached() = 0 after the connection was reset")
	}
	logs := 0
	for _, e := range events {
		if _, ok := e.(*ophost.LogMessage); ok {
			logs++
		}
	}
	if logs != 1500 {
		t.Errorf("%d log events, want 1500", logs)
	}
	if got := x.Outputs()["result"]; got != int64(1500) {
		t.Errorf("result = %v", got)
	}
}

func TestReattachInsideChunkedOutput(t *testing.T) {
	// The reset falls inside the run of value chunks: the stream must resume
	// from before the output and rebuild it whole.
	proxy := startResetProxy(t, serverAddress, 6<<20, 1)
	client := newTestClient(t, proxy.addr(), ophost.WithReattach(5, 50*time.Millisecond))
	x, err := client.Execute(testContext(t), "large_blob", map[string]any{"size_mb": 16})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	outputs, err := x.Result()
	if err != nil {
		t.Fatal(err)
	}
	if proxy.resets.Load() > 0 || x.Reattached() == 0 {
		t.Fatalf("no reset happened (resets left %d, reattached %d)", proxy.resets.Load(), x.Reattached())
	}
	checkBlob(t, outputs["result"], 16)
}

func TestStreamBrokenAfterAttempts(t *testing.T) {
	proxy := startResetProxy(t, serverAddress, 1<<20, 1)
	client := newTestClient(t, proxy.addr(), ophost.WithReattach(2, 20*time.Millisecond))
	x, err := client.Execute(testContext(t), "long_running", map[string]any{"steps": 100},
		ophost.WithConfig(map[string]any{"step_seconds": 0.05}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for x.Next() {
		if _, ok := x.Event().(*ophost.LogMessage); ok {
			_ = proxy.listener.Close() // no way back: re-attach must give up
			proxy.limit.Store(0)
			proxy.resets.Store(1 << 20)
		}
	}
	var broken *ophost.StreamBrokenError
	if !errors.As(x.Err(), &broken) || broken.ExecutionID != x.ID() || broken.LastSequence < 4 || broken.Attempts != 2 {
		t.Fatalf("Err() = %v, want *StreamBrokenError after 2 attempts", x.Err())
	}
	if _, err := newTestClient(t, "").Cancel(testContext(t), x.ID(), "test over"); err != nil {
		t.Error(err)
	}
}
