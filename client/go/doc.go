// Package ophost is the Go client of an ophost server: it lists the ops a server
// hosts, reads their typed signatures, runs them and streams their events back.
//
// A Client wraps one gRPC connection:
//
//	client, err := ophost.New("127.0.0.1:50051")
//	if err != nil { ... }
//	defer client.Close()
//	outputs, err := client.Call(ctx, "add", map[string]any{"a": 2, "b": 3})
//	// outputs["result"] == int64(5)
//
// Execute starts an execution and returns an *Execution, a stream of typed
// events (ExecutionStarted, StepStarted, LogMessage, OutputProduced, ...) that
// is read with Next/Event/Err or ranged over with Events, and that can cancel
// its execution with Cancel. When the connection breaks while events are
// streaming, the stream re-attaches by itself from the last event it
// received, so the caller sees every event once and in order.
//
// # Connecting
//
// New does no network I/O: it is built on grpc.NewClient, and the first call
// connects. An unreachable server is reported by that call, as an *RPCError
// with code Unavailable. A program that must wait for its server (one that
// is still starting, say) calls WaitForReady with a deadline first:
//
//	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
//	defer cancel()
//	if err := client.WaitForReady(ctx); err != nil { ... } // Unavailable
//
// NewClient takes a connection of the caller's instead (a *grpc.ClientConn
// with its own TLS, interceptors or load balancing), which Close leaves
// open.
//
// # Several servers
//
// Replicas of a host (`ophost serve` processes sharing one database) answer
// any call about any execution, so one client can spread its calls over
// them. Give New several comma-separated addresses, or a "dns:///" target
// for a name with several addresses:
//
//	client, err := ophost.New("10.0.0.1:50051,10.0.0.2:50051")
//	client, err := ophost.New("dns:///ops.internal:50051")
//
// Such a client connects to every address and balances its calls round
// robin (a default service config of {"loadBalancingConfig":
// [{"round_robin":{}}]}), sending each call to the next connected server. A
// list is handed to the connection by a resolver of its own (names in it are
// resolved at each connect, as for one address); the "ipv4:" and "ipv6:" URIs
// of gRPC's other languages ("ipv4:10.0.0.1:50051,10.0.0.2:50051") are read
// as the same list. A "dns:" target uses grpc-go's DNS resolver, which looks
// the name up again when connections fail. An event stream stays on the
// server it started on; a re-attach after a break goes to whichever server
// is next. One address keeps gRPC's default policy, pick_first. Dial options
// passed with WithDialOptions come after these, so
// grpc.WithDefaultServiceConfig there replaces the policy.
//
// # Per-call options
//
// As in grpc-go, the options of one call are its context.Context; there are
// no per-call option arguments. Its deadline (context.WithTimeout) and its
// cancelation bound the call, the metadata on it
// (metadata.NewOutgoingContext, metadata.AppendToOutgoingContext) is sent as
// the call's request headers, and a token set with WithCallToken replaces
// the client's. This holds for every method and every RPC it
// makes; the one message that is not an RPC of its own, the cancel that
// Execution.Cancel sends on an open Execute stream, goes under the headers
// of that stream. A call whose context ends fails with an *RPCError whose
// code is DeadlineExceeded or Canceled, in which errors.Is also finds
// context.DeadlineExceeded or context.Canceled. For Execute and Attach the
// context covers the whole event stream, re-attaches included. Unary calls
// other than WaitForReady are also bounded by the client's call timeout
// (WithCallTimeout, DefaultCallTimeout), whichever ends first.
//
// # TLS and tokens
//
// A server run with TLS (`ophost serve --tls-cert ... --tls-key ...`), client
// certificates (--tls-client-ca) or a token file (--token-file) is reached
// with these options of New:
//
//	client, err := ophost.New("ops.example.com:50051",
//		ophost.WithTLSRootsFile("ca.pem"),                         // verify the server (default: the system's CAs)
//		ophost.WithTLSClientCertFiles("client.pem", "client.key"), // mTLS
//		ophost.WithToken(token))                                   // authorization: Bearer <token>
//
// WithTLSRoots and WithTLSClientCert take the PEM data instead of files;
// files are read, and checked, by New. WithTLS takes a whole tls.Config.
// The token goes with every RPC; a call made under WithCallToken(ctx,
// other) sends other instead, and so does a call whose context's outgoing
// metadata has an "authorization" header of its own: exactly one is ever
// sent. A server refuses calls without valid credentials with an *RPCError
// whose code is Unauthenticated (reason "UNAUTHENTICATED"), and calls
// outside the identity's allow-lists with PermissionDenied (reason
// "PERMISSION_DENIED"; Metadata() names the identity, the action and the op
// or execution). Neither is retried, and a stream refused so does not
// re-attach. A server that withholds op error details (--withhold-errors)
// sends an error id in their place: ErrorData.ErrorID, which the error's
// text shows.
//
// # Values
//
// Inputs, config and outputs are dynamically typed. Go values are converted
// as follows (see docs/protocol.md §4 for the wire side):
//
//	nil                          null
//	bool                         bool
//	int*, uint* kinds            int_value when in int64 range, else big_int_value
//	*big.Int                     int_value or big_int_value
//	float32, float64             double (NaN, ±Inf and -0.0 included)
//	string                       string (must be valid UTF-8)
//	[]byte                       bytes
//	slices and arrays            list
//	Go maps                      map (keys sorted, for a stable encoding)
//	Map, Tuple, Set              map (in entry order), tuple, set
//
// Pointers are followed (a nil pointer is null). Any other Go type is refused
// with a *ValueError naming the op, the input and the path inside the value.
// Decoded values use int64, *big.Int (integers outside int64), float64,
// string, []byte, []any, Tuple, Set and Map (Go maps lose order and cannot
// have list keys, so maps always come back as Map).
//
// Large inputs and config are uploaded in chunks and large outputs are
// reassembled, transparently.
//
// # Errors
//
// RPC failures are *RPCError values (with the server's reason, field
// violations and retry delay); an op that fails is not an RPC error but an
// event, which Call and Execution.Result turn into *OpFailedError. Using a
// closed client gives an error for which errors.Is(err, ErrClosed) holds.
package ophost
