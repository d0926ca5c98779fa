package ophost_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"testing"
	"time"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// serverAddress is the address of the real ophost server TestMain starts
// (serving examples/ops.py); in real code it would be "127.0.0.1:50051".
var serverAddress string

var servingLine = regexp.MustCompile(`^ophost: serving \d+ ops from .* on (\S+)$`)

// TestMain starts `ophost serve -f examples/ops.py --port 0` from the Python
// environment of the repository (two levels up), runs the tests against it
// and stops it.
func TestMain(m *testing.M) {
	server, addr, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ophost tests: cannot start the test server:", err)
		os.Exit(1)
	}
	serverAddress = addr
	code := m.Run()
	stopServer(server)
	stopSecureServer()
	os.Exit(code)
}

// startServer starts `ophost serve -f examples/ops.py --port 0` with the
// extra arguments (such as "--store", url) and returns it and its address.
// Without a --store it keeps executions in $OPHOST_STORE or else the default
// store, a SQLite file in the repository's .ophost folder that every server
// started so shares.
func startServer(extra ...string) (*exec.Cmd, string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, "", err
	}
	python := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		return nil, "", fmt.Errorf("%s is missing (run `make setup` in %s): %w", python, root, err)
	}
	args := []string{"-m", "ophost", "serve", "-f", "examples/ops.py", "--port", "0"}
	if !slices.Contains(extra, "--store") {
		// Each test server keeps its executions to itself unless told to share a store.
		args = append(args, "--store", "memory")
	}
	args = append(args, extra...)
	cmd := exec.Command(python, args...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		if scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if match := servingLine.FindStringSubmatch(line); ok && match != nil {
			return cmd, match[1], nil
		}
		stopServer(cmd)
		return nil, "", fmt.Errorf("unexpected first line %q", line)
	case <-time.After(30 * time.Second):
		stopServer(cmd)
		return nil, "", fmt.Errorf("the server did not say where it serves within 30 s")
	}
}

func stopServer(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// sqliteStore is the --store URL of a SQLite file at the absolute path
// (sqlite:////abs/path.db), escaped so that the server reads the path back.
func sqliteStore(path string) string {
	return "sqlite://" + (&url.URL{Path: "/" + filepath.ToSlash(path)}).EscapedPath()
}

// testContext is a context for one test, bounded so that a hang fails it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestClient makes a client of addr (the test server by default), closed
// at the end of the test.
func newTestClient(t *testing.T, addr string, opts ...ophost.Option) *ophost.Client {
	t.Helper()
	if addr == "" {
		addr = serverAddress
	}
	client, err := ophost.New(addr, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
