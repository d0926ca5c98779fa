package ophost

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// maxOutputBytes bounds the size of one reassembled output value.
const maxOutputBytes = 1 << 30

// splitValue returns v inline when its encoding is at most threshold bytes;
// otherwise a chunked_value reference with id valueID and the chunks that
// carry the encoding (docs/protocol.md §5.1).
func splitValue(v *ophostv1.Value, threshold, chunkSize int, valueID string) (*ophostv1.Value, []*ophostv1.ValueChunk, error) {
	if proto.Size(v) <= threshold {
		return v, nil, nil
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	count := (len(data) + chunkSize - 1) / chunkSize
	chunks := make([]*ophostv1.ValueChunk, count)
	for i := range count {
		start := i * chunkSize
		end := min(start+chunkSize, len(data))
		chunks[i] = &ophostv1.ValueChunk{
			ValueId: valueID,
			Index:   uint32(i),
			Offset:  uint64(start),
			Data:    data[start:end],
			Last:    i == count-1,
		}
	}
	ref := &ophostv1.ChunkedValueRef{ValueId: valueID, TotalSizeBytes: uint64(len(data)), ChunkCount: uint32(count)}
	return &ophostv1.Value{Kind: &ophostv1.Value_ChunkedValue{ChunkedValue: ref}}, chunks, nil
}

// assembly collects the chunks of one output value, checking each against
// the reference (docs/protocol.md §5.2).
type assembly struct {
	ref  *ophostv1.ChunkedValueRef
	data []byte
	next uint32
}

func newAssembly(ref *ophostv1.ChunkedValueRef) (*assembly, error) {
	switch {
	case ref.GetChunkCount() == 0:
		return nil, fmt.Errorf("chunked value %q has no chunks", ref.GetValueId())
	case ref.GetTotalSizeBytes() > maxOutputBytes:
		return nil, fmt.Errorf("chunked value %q is %d bytes, over the client's limit of %d",
			ref.GetValueId(), ref.GetTotalSizeBytes(), maxOutputBytes)
	}
	return &assembly{ref: ref, data: make([]byte, 0, ref.GetTotalSizeBytes())}, nil
}

// add appends one chunk; done is true once the last chunk arrived.
func (a *assembly) add(c *ophostv1.ValueChunk) (done bool, err error) {
	ref := a.ref
	switch {
	case c.GetValueId() != ref.GetValueId():
		return false, fmt.Errorf("chunk of value %q while value %q is incomplete", c.GetValueId(), ref.GetValueId())
	case c.GetIndex() != a.next:
		return false, fmt.Errorf("chunk %d of value %q arrived where chunk %d was expected", c.GetIndex(), ref.GetValueId(), a.next)
	case c.GetOffset() != uint64(len(a.data)):
		return false, fmt.Errorf("chunk %d of value %q has offset %d, expected %d", c.GetIndex(), ref.GetValueId(), c.GetOffset(), len(a.data))
	case uint64(len(a.data))+uint64(len(c.GetData())) > ref.GetTotalSizeBytes():
		return false, fmt.Errorf("chunks of value %q exceed its %d bytes", ref.GetValueId(), ref.GetTotalSizeBytes())
	}
	a.data = append(a.data, c.GetData()...)
	a.next++
	final := a.next == ref.GetChunkCount()
	if c.GetLast() != final {
		return false, fmt.Errorf("chunk %d of value %q: last is %t, but the value has %d chunks", c.GetIndex(), ref.GetValueId(), c.GetLast(), ref.GetChunkCount())
	}
	if final && uint64(len(a.data)) != ref.GetTotalSizeBytes() {
		return false, fmt.Errorf("value %q has %d bytes, its reference says %d", ref.GetValueId(), len(a.data), ref.GetTotalSizeBytes())
	}
	return final, nil
}

// value parses the complete bytes.
func (a *assembly) value() (*ophostv1.Value, error) {
	v := &ophostv1.Value{}
	if err := proto.Unmarshal(a.data, v); err != nil {
		return nil, fmt.Errorf("value %q does not parse: %w", a.ref.GetValueId(), err)
	}
	if v.GetChunkedValue() != nil {
		return nil, fmt.Errorf("value %q is itself a chunked_value reference", a.ref.GetValueId())
	}
	return v, nil
}
