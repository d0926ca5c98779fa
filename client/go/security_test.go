package ophost_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// The identities of the secure test server's token file: alice may do
// everything with every op, bob may list, run and read "add" only, and
// neither may touch the other's executions.
const (
	aliceToken = "alice-0123456789abcdef0123456789abcdef"
	bobToken   = "bob-fedcba9876543210fedcba9876543210"
)

// pki is a CA made for the tests, the server's certificate (127.0.0.1 and
// localhost) and a client certificate, as PEM files in dir.
type pki struct {
	dir                   string
	caFile                string
	caPEM                 []byte
	serverCert, serverKey string
	clientCert, clientKey string
	clientCertPEM         []byte
	clientKeyPEM          []byte
}

// newCA makes a self-signed CA certificate and its key.
func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"ophost tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// issue makes a leaf certificate signed by the CA and returns it and its
// key as PEM.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, names []string) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"ophost tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func makePKI(dir string) (*pki, error) {
	ca, caKey, caPEM, err := newCA("ophost test CA")
	if err != nil {
		return nil, err
	}
	serverCert, serverKey, err := issue(ca, caKey, 2, "127.0.0.1", x509.ExtKeyUsageServerAuth,
		[]net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return nil, err
	}
	clientCert, clientKey, err := issue(ca, caKey, 3, "go-tests", x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}
	p := &pki{
		dir: dir, caFile: filepath.Join(dir, "ca.pem"), caPEM: caPEM,
		serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key"),
		clientCertPEM: clientCert, clientKeyPEM: clientKey,
	}
	for path, data := range map[string][]byte{
		p.caFile: caPEM, p.serverCert: serverCert, p.serverKey: serverKey,
		p.clientCert: clientCert, p.clientKey: clientKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// secure is the server with TLS, client certificates and the token file,
// started by the first test that needs it and stopped by TestMain.
var secure struct {
	once    sync.Once
	pki     *pki
	cmd     *exec.Cmd
	address string
	err     error
}

func secureServer(t *testing.T) (*pki, string) {
	t.Helper()
	secure.once.Do(func() {
		dir, err := os.MkdirTemp("", "ophost-go-tls-")
		if err != nil {
			secure.err = err
			return
		}
		p, err := makePKI(dir)
		if err != nil {
			secure.err = err
			return
		}
		secure.pki = p
		tokens := filepath.Join(dir, "tokens.toml")
		text := fmt.Sprintf(`[identities.alice]
token_hash = %q
ops = ["*"]
actions = ["list", "run", "read", "cancel"]

[identities.bob]
token_hash = %q
ops = ["add"]
actions = ["list", "run", "read"]
`, tokenHash(aliceToken), tokenHash(bobToken))
		if err := os.WriteFile(tokens, []byte(text), 0o600); err != nil {
			secure.err = err
			return
		}
		secure.cmd, secure.address, secure.err = startServer(
			"--tls-cert", p.serverCert, "--tls-key", p.serverKey, "--tls-client-ca", p.caFile,
			"--token-file", tokens, "--withhold-errors", "--executor", "thread")
	})
	if secure.err != nil {
		t.Fatalf("cannot start the secure test server: %v", secure.err)
	}
	return secure.pki, secure.address
}

// stopSecureServer stops the secure server if a test started it.
func stopSecureServer() {
	if secure.cmd != nil {
		stopServer(secure.cmd)
	}
	if secure.pki != nil {
		_ = os.RemoveAll(secure.pki.dir)
	}
}

// mtlsOptions are the options of a client that trusts the test CA and
// presents the test client certificate, plus extra.
func mtlsOptions(p *pki, extra ...ophost.Option) []ophost.Option {
	return append([]ophost.Option{
		ophost.WithTLSRootsFile(p.caFile),
		ophost.WithTLSClientCertFiles(p.clientCert, p.clientKey),
	}, extra...)
}

// rpcError fails the test unless err is an *RPCError with code and reason.
func rpcError(t *testing.T, err error, code codes.Code, reason string) *ophost.RPCError {
	t.Helper()
	var rpcErr *ophost.RPCError
	if !errors.As(err, &rpcErr) {
		t.Fatalf("error = %v (%T), want an *RPCError %v", err, err, code)
	}
	if rpcErr.Code() != code || rpcErr.Reason() != reason {
		t.Fatalf("error = %v, want code %v reason %q", rpcErr, code, reason)
	}
	if reason != "" && rpcErr.Domain() != "ophost" {
		t.Errorf("domain = %q, want ophost", rpcErr.Domain())
	}
	return rpcErr
}

func opNames(t *testing.T, client *ophost.Client, ctx context.Context) []string {
	t.Helper()
	ops, err := client.ListOps(ctx)
	if err != nil {
		t.Fatalf("ListOps: %v", err)
	}
	var names []string
	for _, op := range ops {
		names = append(names, op.GetName())
	}
	return names
}

func TestMTLSWithATokenRunsOps(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken(aliceToken))...)
	ctx := testContext(t)
	if err := client.WaitForReady(ctx); err != nil {
		t.Fatal(err)
	}
	if names := opNames(t, client, ctx); !slices.Contains(names, "summarize") || !slices.Contains(names, "add") {
		t.Errorf("alice's ops = %v, want every op", names)
	}
	outputs, err := client.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
	if err != nil || outputs["result"] != int64(5) {
		t.Fatalf("Call(add) = %v, %v", outputs, err)
	}
	// A stream, and a second stream attached to it (StreamEvents), both with the token.
	x, err := client.Execute(ctx, "count_up", map[string]any{"n": 3})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, x)
	attached, err := client.Attach(ctx, x.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, attached)
	if attached.Finished() == nil {
		t.Error("the attached stream ended without the terminal event")
	}
}

func TestPEMDataWorksLikeFiles(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr,
		ophost.WithTLSRoots(p.caPEM),
		ophost.WithTLSClientCert(p.clientCertPEM, p.clientKeyPEM),
		ophost.WithToken(bobToken))
	if names := opNames(t, client, testContext(t)); !slices.Equal(names, []string{"add"}) {
		t.Errorf("bob's ops = %v, want [add]", names)
	}
}

func TestNoTokenOrAWrongTokenIsUnauthenticated(t *testing.T) {
	p, addr := secureServer(t)
	ctx := testContext(t)
	anonymous := newTestClient(t, addr, mtlsOptions(p)...)
	_, err := anonymous.ListOps(ctx)
	rpcError(t, err, codes.Unauthenticated, "UNAUTHENTICATED")
	_, err = anonymous.Call(ctx, "add", map[string]any{"a": 1, "b": 1})
	rpcError(t, err, codes.Unauthenticated, "UNAUTHENTICATED")

	wrong := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken("not-a-known-token"))...)
	_, err = wrong.GetOp(ctx, "add")
	rpcError(t, err, codes.Unauthenticated, "UNAUTHENTICATED")
	// A stream refused at its start is not re-attached: UNAUTHENTICATED is final.
	x, err := wrong.Attach(ctx, "no-such-execution", 0)
	if err == nil {
		for x.Next() {
		}
		err = x.Err()
		if x.Reattached() != 0 {
			t.Errorf("the refused stream re-attached %d times", x.Reattached())
		}
	}
	rpcError(t, err, codes.Unauthenticated, "UNAUTHENTICATED")
}

func TestACallTokenReplacesTheClientToken(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken(aliceToken))...)
	ctx := testContext(t)
	if names := opNames(t, client, ophost.WithCallToken(ctx, bobToken)); !slices.Equal(names, []string{"add"}) {
		t.Errorf("ListOps as bob = %v, want [add]", names)
	}
	// An authorization header in the context's metadata replaces the
	// client's token too (two headers would be refused as UNAUTHENTICATED).
	asBob := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bobToken)
	if names := opNames(t, client, asBob); !slices.Equal(names, []string{"add"}) {
		t.Errorf("ListOps with bob's header = %v, want [add]", names)
	}
	// ... and WithCallToken replaces that header.
	if names := opNames(t, client, ophost.WithCallToken(asBob, aliceToken)); !slices.Contains(names, "summarize") {
		t.Errorf("ListOps as alice over bob's header = %v, want every op", names)
	}
	// A client without a token, and a call with one.
	anonymous := newTestClient(t, addr, mtlsOptions(p)...)
	outputs, err := anonymous.Call(ophost.WithCallToken(ctx, bobToken), "add", map[string]any{"a": 20, "b": 22})
	if err != nil || outputs["result"] != int64(42) {
		t.Fatalf("Call(add) as bob = %v, %v", outputs, err)
	}
}

func TestAnOpOutsideTheAllowListIsPermissionDenied(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken(bobToken))...)
	_, err := client.Call(testContext(t), "summarize", map[string]any{"values": []any{1.0}})
	e := rpcError(t, err, codes.PermissionDenied, "PERMISSION_DENIED")
	md := e.Metadata()
	if md["identity"] != "bob" || md["action"] != "run" || md["op"] != "summarize" {
		t.Errorf("ErrorInfo metadata = %v, want identity bob, action run, op summarize", md)
	}
}

func TestAnotherIdentitysExecutionIsPermissionDenied(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken(aliceToken))...)
	ctx := testContext(t)
	x, err := client.Execute(ctx, "add", map[string]any{"a": 1, "b": 2})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, x)
	asBob := ophost.WithCallToken(ctx, bobToken)
	_, err = client.GetExecution(asBob, x.ID())
	e := rpcError(t, err, codes.PermissionDenied, "PERMISSION_DENIED")
	if md := e.Metadata(); md["identity"] != "bob" || md["execution_id"] != x.ID() {
		t.Errorf("ErrorInfo metadata = %v, want identity bob and execution_id %s", md, x.ID())
	}
	attached, err := client.Attach(asBob, x.ID(), 0)
	if err == nil {
		for attached.Next() {
		}
		err = attached.Err()
	}
	rpcError(t, err, codes.PermissionDenied, "PERMISSION_DENIED")
	// Its owner still reads it.
	if _, err := client.GetExecution(ctx, x.ID()); err != nil {
		t.Errorf("GetExecution as alice: %v", err)
	}
}

func TestAWithheldErrorShowsItsID(t *testing.T) {
	p, addr := secureServer(t)
	client := newTestClient(t, addr, mtlsOptions(p, ophost.WithToken(aliceToken))...)
	_, err := client.Call(testContext(t), "summarize", map[string]any{"values": []any{}})
	var failed *ophost.OpFailedError
	if !errors.As(err, &failed) || failed.Err == nil {
		t.Fatalf("Call error = %v (%T), want *OpFailedError with an error", err, err)
	}
	data := failed.Err
	if data.ErrorID == "" || len(data.Stack) != 0 {
		t.Fatalf("ErrorData = %+v, want an error id and no stack", data)
	}
	if !strings.Contains(err.Error(), data.ErrorID) {
		t.Errorf("the error %q does not show the error id %s", err, data.ErrorID)
	}
	// An ErrorData whose message does not carry its id shows it anyway.
	bare := &ophost.ErrorData{TypeName: "builtins.ValueError", Message: "withheld", ErrorID: "abc123"}
	if got := bare.Error(); got != "builtins.ValueError: withheld (error id abc123)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestTLSIsRefusedWithoutTheRightCertificates(t *testing.T) {
	p, addr := secureServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No client certificate: the server ends the handshake.
	noCert := newTestClient(t, addr, ophost.WithTLSRootsFile(p.caFile), ophost.WithToken(aliceToken))
	_, err := noCert.ListOps(ctx)
	rpcError(t, err, codes.Unavailable, "")
	// The system's roots do not hold the test CA: the client refuses the server.
	systemRoots := newTestClient(t, addr, ophost.WithTLSClientCertFiles(p.clientCert, p.clientKey), ophost.WithToken(aliceToken))
	_, err = systemRoots.ListOps(ctx)
	e := rpcError(t, err, codes.Unavailable, "")
	if !strings.Contains(e.Message(), "certificate") {
		t.Errorf("message = %q, want it to mention the certificate", e.Message())
	}
	// Plain text to a TLS server.
	plain := newTestClient(t, addr, ophost.WithToken(aliceToken))
	_, err = plain.ListOps(ctx)
	rpcError(t, err, codes.Unavailable, "")
}

func TestNewRefusesTLSOptionsThatDoNotLoad(t *testing.T) {
	p, _ := secureServer(t)
	missing := filepath.Join(p.dir, "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	serverKeyPEM, err := os.ReadFile(p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts []ophost.Option
		want []string
	}{
		{"missing roots", []ophost.Option{ophost.WithTLSRootsFile(missing)}, []string{"WithTLSRoots", missing}},
		{"roots not PEM", []ophost.Option{ophost.WithTLSRootsFile(notPEM)}, []string{"WithTLSRoots", notPEM, "not PEM"}},
		{"roots data not PEM", []ophost.Option{ophost.WithTLSRoots([]byte("x"))}, []string{"WithTLSRoots", "not PEM"}},
		{"roots without a certificate", []ophost.Option{ophost.WithTLSRootsFile(p.clientKey)}, []string{"no PEM certificate"}},
		{"key of another certificate", []ophost.Option{ophost.WithTLSClientCertFiles(p.clientCert, p.serverKey)}, []string{"WithTLSClientCert", p.clientCert, p.serverKey}},
		{"key of another certificate, as data", []ophost.Option{ophost.WithTLSClientCert(p.clientCertPEM, serverKeyPEM)}, []string{"WithTLSClientCert", "the certificate and the key given"}},
		{"missing key", []ophost.Option{ophost.WithTLSClientCertFiles(p.clientCert, missing)}, []string{"key", missing}},
		{"with transport credentials", []ophost.Option{ophost.WithTransportCredentials(insecure.NewCredentials()), ophost.WithTLSRoots(p.caPEM)}, []string{"WithTransportCredentials"}},
		{"empty token", []ophost.Option{ophost.WithToken("")}, nil},
		{"token with a space", []ophost.Option{ophost.WithToken("a b")}, []string{"WithToken", "printable ASCII"}},
		{"token with a newline", []ophost.Option{ophost.WithToken("a\nAuthorization: x")}, []string{"WithToken"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, err := ophost.New("127.0.0.1:1", c.opts...)
			if c.want == nil { // an empty token is no token
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				_ = client.Close()
				return
			}
			if err == nil {
				_ = client.Close()
				t.Fatal("New accepted the options")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestABadCallTokenFailsBeforeSending(t *testing.T) {
	var rec callRecorder
	client := newTestClient(t, "", rec.option())
	_, err := client.ListOps(ophost.WithCallToken(testContext(t), "two words"))
	if err == nil || !strings.Contains(err.Error(), "WithCallToken") {
		t.Fatalf("ListOps = %v, want an error naming WithCallToken", err)
	}
	if calls := rec.recorded(); len(calls) != 0 {
		t.Errorf("calls sent: %v", calls)
	}
}
