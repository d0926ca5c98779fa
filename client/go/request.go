package ophost

import (
	"fmt"
	"slices"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// startValue is one encoded input or the config, with its path ("inputs.a",
// "config"), which is also its value id when it is uploaded in chunks.
type startValue struct {
	path  string
	value *ophostv1.Value
	set   func(*ophostv1.Value)
}

// encodeStart converts the inputs (in name order, for a stable request) and
// the config; a value that cannot be converted gives a *ValueError naming
// the op and the path.
func encodeStart(op string, inputs map[string]any, s execSettings) (*ophostv1.ExecutionStart, []startValue, error) {
	start := &ophostv1.ExecutionStart{OpName: op, Tags: s.tags, RequestId: s.requestID}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	var values []startValue
	for _, name := range names {
		path := "inputs." + name
		v, err := encodeAt(inputs[name], path)
		if err != nil {
			return nil, nil, withOp(err, op)
		}
		named := &ophostv1.NamedValue{Name: name, Value: v}
		start.Inputs = append(start.Inputs, named)
		values = append(values, startValue{path: path, value: v, set: func(w *ophostv1.Value) { named.Value = w }})
	}
	if s.hasConfig {
		v, err := encodeAt(s.config, "config")
		if err != nil {
			return nil, nil, withOp(err, op)
		}
		start.Config = v
		values = append(values, startValue{path: "config", value: v, set: func(w *ophostv1.Value) { start.Config = w }})
	}
	return start, values, nil
}

func withOp(err error, op string) error {
	if ve, ok := err.(*ValueError); ok {
		ve.Op = op
	}
	return err
}

// chunkStart replaces the values above the server's inline threshold by
// chunked_value references and returns their chunks, to send after start.
func chunkStart(start *ophostv1.ExecutionStart, values []startValue, info *ophostv1.GetServerInfoResponse) ([]*ophostv1.ValueChunk, error) {
	limits := info.GetLimits()
	threshold := int(limits.GetInlineThresholdBytes())
	chunkSize := max(int(limits.GetChunkSizeBytes()), 1)
	canUpload := slices.Contains(info.GetCapabilities(), capabilityChunkedUpload)
	var chunks []*ophostv1.ValueChunk
	for _, sv := range values {
		wire, pieces, err := splitValue(sv.value, threshold, chunkSize, sv.path)
		if err != nil {
			return nil, &ValueError{Op: start.GetOpName(), Path: sv.path, Reason: err.Error()}
		}
		if len(pieces) > 0 && !canUpload {
			return nil, &ValueError{
				Op: start.GetOpName(), Path: sv.path,
				Reason: fmt.Sprintf("the value is over the server's inline threshold of %d bytes, and the server does not accept chunked uploads", threshold),
			}
		}
		sv.set(wire)
		chunks = append(chunks, pieces...)
	}
	return chunks, nil
}
