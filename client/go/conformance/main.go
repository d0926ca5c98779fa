// Command conformance is the Go client's conformance program
// (tests/conformance/README.md): it reads a JSON document of cases on
// standard input, runs each with the ophost package's public API against the
// given servers, and writes one JSON line of normalised results per case.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"

	ophost "github.com/ophost-dev/ophost/client/go"
)

// document is what the runner sends.
type document struct {
	Targets  map[string]string `json:"targets"`
	Cases    []json.RawMessage `json:"cases"`
	Security *security         `json:"security"`
}

// security is what the secure run adds: the CA to verify the servers with,
// the client certificate and key (PEM files), the program's token and the
// tokens of the other identities, by name.
type security struct {
	CA     string            `json:"ca"`
	Cert   string            `json:"cert"`
	Key    string            `json:"key"`
	Token  string            `json:"token"`
	Tokens map[string]string `json:"tokens"`
}

// testCase holds the fields of every action.
type testCase struct {
	ID             string                     `json:"id"`
	Action         string                     `json:"action"`
	Target         string                     `json:"target"`
	Op             string                     `json:"op"`
	Inputs         map[string]json.RawMessage `json:"inputs"`
	Config         json.RawMessage            `json:"config"`
	Tags           map[string]string          `json:"tags"`
	Cancel         *cancelSpec                `json:"cancel"`
	ExecutionID    string                     `json:"execution_id"`
	AfterSequence  uint64                     `json:"after_sequence"`
	RequestID      string                     `json:"request_id"`
	First          map[string]json.RawMessage `json:"first"`
	Second         map[string]json.RawMessage `json:"second"`
	Kind           string                     `json:"kind"`
	Input          string                     `json:"input"`
	Index          int                        `json:"index"`
	TimeoutSeconds float64                    `json:"timeout_seconds"`
	Token          string                     `json:"token"`
	WithoutToken   bool                       `json:"without_token"`
	AttachToken    string                     `json:"attach_token"`
}

type cancelSpec struct {
	AfterLog string `json:"after_log"`
	Via      string `json:"via"`
}

type result = map[string]any

// program runs cases with one client per target, made when first needed.
type program struct {
	targets  map[string]string
	clients  map[string]*ophost.Client
	security *security
}

func main() {
	var doc document
	if err := json.NewDecoder(os.Stdin).Decode(&doc); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: cannot read the cases:", err)
		os.Exit(2)
	}
	p := &program{targets: doc.Targets, clients: map[string]*ophost.Client{}, security: doc.Security}
	defer p.close()
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	for _, raw := range doc.Cases {
		var c testCase
		var res result
		if err := json.Unmarshal(raw, &c); err != nil {
			res = result{"crash": "bad case: " + err.Error()}
		} else {
			res = p.runCase(c)
		}
		if err := out.Encode(map[string]any{"id": c.ID, "result": res}); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			os.Exit(2)
		}
	}
}

func (p *program) close() {
	for _, c := range p.clients {
		_ = c.Close()
	}
}

func (p *program) client(target string) (*ophost.Client, error) {
	if c, ok := p.clients[target]; ok {
		return c, nil
	}
	c, err := p.newClient(target, true)
	if err != nil {
		return nil, err
	}
	p.clients[target] = c
	return c, nil
}

// newClient makes a client of target; in the secure run with the TLS files
// and, withToken, the program's token.
func (p *program) newClient(target string, withToken bool) (*ophost.Client, error) {
	addr, ok := p.targets[target]
	if !ok {
		return nil, fmt.Errorf("unknown target %q", target)
	}
	var opts []ophost.Option
	if s := p.security; s != nil {
		opts = append(opts, ophost.WithTLSRootsFile(s.CA), ophost.WithTLSClientCertFiles(s.Cert, s.Key))
		if withToken {
			opts = append(opts, ophost.WithToken(s.Token))
		}
	}
	return ophost.New(addr, opts...)
}

// asIdentity is ctx under which calls send the token of the identity name
// (the client's own when name is "").
func (p *program) asIdentity(ctx context.Context, name string) (context.Context, error) {
	if name == "" {
		return ctx, nil
	}
	if p.security == nil {
		return nil, fmt.Errorf("the case names the token %q, but this run has none", name)
	}
	token, ok := p.security.Tokens[name]
	if !ok {
		return nil, fmt.Errorf("no token for the identity %q", name)
	}
	return ophost.WithCallToken(ctx, token), nil
}

// runCase runs one case within its timeout and turns every outcome,
// errors included, into a result.
func (p *program) runCase(c testCase) (res result) {
	if c.Target == "" {
		c.Target = "main"
	}
	timeout := 60 * time.Second
	if c.TimeoutSeconds > 0 {
		timeout = time.Duration(c.TimeoutSeconds * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			res = result{"crash": fmt.Sprint("panic: ", r)}
		}
	}()
	res, err := p.run(ctx, c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %s: %v\n", c.ID, err)
		return errorResult(ctx, err)
	}
	return res
}

func (p *program) run(ctx context.Context, c testCase) (result, error) {
	ctx, err := p.asIdentity(ctx, c.Token)
	if err != nil {
		return nil, err
	}
	if c.Action == "client_error" && c.Kind == "closed" {
		return p.closedClient(ctx, c)
	}
	var client *ophost.Client
	if c.WithoutToken {
		client, err = p.newClient(c.Target, false)
		if err == nil {
			defer client.Close()
		}
	} else {
		client, err = p.client(c.Target)
	}
	if err != nil {
		return nil, err
	}
	switch c.Action {
	case "list_ops":
		ops, err := client.ListOps(ctx)
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, op := range ops {
			names = append(names, op.GetName())
		}
		slices.Sort(names)
		return result{"ops": names}, nil
	case "get_op":
		op, err := client.GetOp(ctx, c.Op)
		if err != nil {
			return nil, err
		}
		sig, err := signature(op)
		return result{"op": sig}, err
	case "call":
		return call(ctx, client, c)
	case "execute":
		inputs, opts, err := startArgs(c, c.Inputs)
		if err != nil {
			return nil, err
		}
		x, err := client.Execute(ctx, c.Op, inputs, opts...)
		if err != nil {
			return nil, err
		}
		return collect(ctx, client, x, c.Cancel)
	case "attach":
		attachCtx, err := p.asIdentity(ctx, c.AttachToken)
		if err != nil {
			return nil, err
		}
		return attach(ctx, attachCtx, client, c)
	case "cancel":
		if _, err := client.Cancel(ctx, c.ExecutionID, ""); err != nil {
			return nil, err
		}
		return result{"canceled": true}, nil
	case "request_id":
		return requestID(ctx, client, c)
	case "client_error":
		if c.Kind == "unconvertible_input" {
			items := []any{1, 2, 3}
			items[c.Index] = make(chan int)
			if _, err := client.Call(ctx, c.Op, map[string]any{c.Input: items}); err != nil {
				return nil, err
			}
			return result{"crash": "the client accepted an unconvertible value"}, nil
		}
		return result{"crash": fmt.Sprintf("unknown client_error kind %q", c.Kind)}, nil
	}
	return result{"crash": fmt.Sprintf("unknown action %q", c.Action)}, nil
}

// startArgs decodes a case's inputs, config and tags.
func startArgs(c testCase, rawInputs map[string]json.RawMessage) (map[string]any, []ophost.ExecOption, error) {
	inputs, err := decodeInputs(rawInputs)
	if err != nil {
		return nil, nil, err
	}
	var opts []ophost.ExecOption
	if c.Config != nil {
		config, err := decodeTV(c.Config)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, ophost.WithConfig(config))
	}
	if c.Tags != nil {
		opts = append(opts, ophost.WithTags(c.Tags))
	}
	return inputs, opts, nil
}

func call(ctx context.Context, client *ophost.Client, c testCase) (result, error) {
	inputs, opts, err := startArgs(c, c.Inputs)
	if err != nil {
		return nil, err
	}
	outputs, err := client.Call(ctx, c.Op, inputs, opts...)
	var failed *ophost.OpFailedError
	var canceled *ophost.ExecutionCanceledError
	switch {
	case errors.As(err, &failed):
		return result{"op_failed": chain(failed.Err)}, nil
	case errors.As(err, &canceled):
		return result{"canceled": true}, nil
	case err != nil:
		return nil, err
	}
	encoded, err := encodeOutputs(outputs)
	return result{"outputs": encoded}, err
}

// collect reads a stream to its end, canceling it when asked to.
func collect(ctx context.Context, client *ophost.Client, x *ophost.Execution, cancel *cancelSpec) (result, error) {
	defer x.Close()
	events := []map[string]any{}
	var status any
	for event, err := range x.Events() {
		if err != nil {
			return nil, err
		}
		normal, err := normaliseEvent(event)
		if err != nil {
			return nil, err
		}
		events = append(events, normal)
		switch e := event.(type) {
		case *ophost.LogMessage:
			if cancel != nil && e.Message == cancel.AfterLog {
				if cancel.Via == "rpc" {
					_, err = client.Cancel(ctx, x.ID(), "")
				} else {
					err = x.Cancel(ctx, "")
				}
				if err != nil {
					return nil, err
				}
			}
		case *ophost.ExecutionFinished:
			status = normal["status"]
		}
	}
	outputs, err := encodeOutputs(x.Outputs())
	if err != nil {
		return nil, err
	}
	return result{"events": events, "outputs": outputs, "status": status}, nil
}

// attach runs the op under ctx and attaches to its execution under attachCtx.
func attach(ctx, attachCtx context.Context, client *ophost.Client, c testCase) (result, error) {
	id := c.ExecutionID
	if c.Op != "" {
		inputs, err := decodeInputs(c.Inputs)
		if err != nil {
			return nil, err
		}
		first, err := client.Execute(ctx, c.Op, inputs)
		if err != nil {
			return nil, err
		}
		for first.Next() {
		}
		first.Close()
		if err := first.Err(); err != nil {
			return nil, err
		}
		id = first.ID()
	}
	x, err := client.Attach(attachCtx, id, c.AfterSequence)
	if err != nil {
		return nil, err
	}
	return collect(attachCtx, client, x, nil)
}

func requestID(ctx context.Context, client *ophost.Client, c testCase) (result, error) {
	inputs, err := decodeInputs(c.First)
	if err != nil {
		return nil, err
	}
	first, err := client.Execute(ctx, c.Op, inputs, ophost.WithRequestID(c.RequestID))
	if err != nil {
		return nil, err
	}
	firstResult, err := collect(ctx, client, first, nil)
	if err != nil {
		return nil, err
	}
	outcome := result{"first": firstResult["status"]}
	if inputs, err = decodeInputs(c.Second); err != nil {
		return nil, err
	}
	second, err := client.Execute(ctx, c.Op, inputs, ophost.WithRequestID(c.RequestID))
	if err != nil {
		var rpcErr *ophost.RPCError
		if !errors.As(err, &rpcErr) {
			return nil, err
		}
		outcome["second"] = rpcErrorResult(rpcErr)
		return outcome, nil
	}
	if _, err := collect(ctx, client, second, nil); err != nil {
		return nil, err
	}
	outcome["second_same_execution"] = second.ID() == first.ID()
	return outcome, nil
}

func (p *program) closedClient(ctx context.Context, c testCase) (result, error) {
	fresh, err := p.newClient(c.Target, true)
	if err != nil {
		return nil, err
	}
	if err := fresh.Close(); err != nil {
		return nil, err
	}
	if _, err := fresh.Call(ctx, c.Op, map[string]any{}); err != nil {
		return nil, err
	}
	return result{"crash": "a closed client made a call"}, nil
}

// errorResult normalises an error that ended a case.
func errorResult(ctx context.Context, err error) result {
	var rpcErr *ophost.RPCError
	var valueErr *ophost.ValueError
	switch {
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return result{"timeout": true}
	case errors.As(err, &valueErr):
		return result{"client_error": map[string]any{"kind": "invalid_value", "message": err.Error()}}
	case errors.Is(err, ophost.ErrClosed):
		return result{"client_error": map[string]any{"kind": "closed", "message": err.Error()}}
	case errors.As(err, &rpcErr):
		return rpcErrorResult(rpcErr)
	}
	var broken *ophost.StreamBrokenError
	var protocol *ophost.ProtocolError
	if errors.As(err, &broken) || errors.As(err, &protocol) {
		return result{"client_error": map[string]any{"kind": "other", "message": err.Error()}}
	}
	return result{"crash": fmt.Sprintf("%T: %v", err, err)}
}

func rpcErrorResult(e *ophost.RPCError) result {
	var reason any
	if e.Reason() != "" {
		reason = e.Reason()
	}
	fields := e.Fields()
	slices.Sort(fields)
	metadata := e.Metadata()
	if metadata == nil {
		metadata = map[string]string{}
	}
	return result{"error": map[string]any{
		"code":     rpccode.Code_name[int32(e.Code())],
		"reason":   reason,
		"fields":   fields,
		"metadata": metadata,
	}}
}
