package main

import (
	"fmt"
	"strings"

	ophost "github.com/ophost-dev/ophost/client/go"
	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// enumName is an enum value's name without its prefix, or nil when it is
// the unspecified value.
func enumName(name, prefix string) any {
	if strings.HasSuffix(name, "UNSPECIFIED") {
		return nil
	}
	return strings.TrimPrefix(name, prefix)
}

// chain is an error with its causes, outermost first.
func chain(e *ophost.ErrorData) any {
	if e == nil {
		return nil
	}
	links := []map[string]any{}
	for _, link := range e.Chain() {
		links = append(links, map[string]any{"type": link.TypeName, "message": link.Message})
	}
	return links
}

// metadata is a list of [label, arm name] pairs.
func metadata(entries []*ophostv1.MetadataEntry) any {
	pairs := [][2]any{}
	for _, entry := range entries {
		var arm any
		if value := entry.GetValue(); value != nil {
			m := value.ProtoReflect()
			if field := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind")); field != nil {
				arm = string(field.Name())
			}
		}
		pairs = append(pairs, [2]any{entry.GetLabel(), arm})
	}
	return pairs
}

// normaliseEvent is an event as the conformance results spell it.
func normaliseEvent(event ophost.Event) (map[string]any, error) {
	info := event.Info()
	out := map[string]any{"seq": info.Sequence, "attempt": info.Attempt}
	switch e := event.(type) {
	case *ophost.ExecutionStarted:
		out["kind"] = "execution_started"
	case *ophost.StepStarted:
		out["kind"] = "step_started"
	case *ophost.StepRestarted:
		out["kind"] = "step_restarted"
	case *ophost.StepSucceeded:
		out["kind"] = "step_success"
	case *ophost.InputChecked:
		out["kind"], out["input"], out["success"] = "input_checked", e.InputName, e.TypeCheck.Success
	case *ophost.OutputProduced:
		value, err := encodeTV(e.Value)
		if err != nil {
			return nil, err
		}
		var typeCheck any
		if e.TypeCheck != nil {
			typeCheck = e.TypeCheck.Success
		}
		out["kind"], out["name"], out["value"], out["type_check"] = "output", e.OutputName, value, typeCheck
	case *ophost.AssetMaterialized:
		out["kind"] = "asset_materialization"
		out["asset_key"] = append([]string{}, e.AssetKey...)
		out["description"], out["partition"], out["metadata"] = e.Description, e.Partition, metadata(e.Metadata)
	case *ophost.AssetObserved:
		out["kind"] = "asset_observation"
		out["asset_key"] = append([]string{}, e.AssetKey...)
		out["description"], out["partition"], out["metadata"] = e.Description, e.Partition, metadata(e.Metadata)
	case *ophost.ExpectationResult:
		out["kind"], out["success"], out["label"] = "expectation_result", e.Success, e.Label
		out["description"], out["metadata"] = e.Description, metadata(e.Metadata)
	case *ophost.LogMessage:
		out["kind"], out["level"], out["message"] = "log", enumName(e.Level.String(), "LOG_LEVEL_"), e.Message
	case *ophost.RetryScheduled:
		out["kind"] = "retry_scheduled"
		out["failed_attempt"], out["next_attempt"] = e.FailedAttempt, e.NextAttempt
		out["delay_seconds"], out["error"] = e.DelaySeconds, chain(e.Error)
	case *ophost.StepFailed:
		out["kind"], out["error"] = "step_failure", chain(e.Error)
		out["source"], out["will_retry"] = enumName(e.Source.String(), "ERROR_SOURCE_"), e.WillRetry
		out["user_failure"] = nil
		if u := e.UserFailure; u != nil {
			out["user_failure"] = map[string]any{"description": u.Description, "metadata": metadata(u.Metadata)}
		}
	case *ophost.ExecutionFinished:
		out["kind"] = "execution_finished"
		out["status"] = enumName(e.Status.String(), "EXECUTION_STATUS_")
		out["error"], out["cancel_requested"] = chain(e.Error), e.CancelRequested
		out["cancel_outcome"] = enumName(e.CancelOutcome.String(), "CANCEL_OUTCOME_")
	default:
		return nil, fmt.Errorf("unknown event %T", event)
	}
	return out, nil
}

// signature is an op definition as the get_op result spells it.
func signature(op *ophostv1.OpDefinition) (map[string]any, error) {
	inputs := []map[string]any{}
	for _, in := range op.GetInputs() {
		var def any
		if in.GetDefaultValue() != nil {
			value, err := ophost.DecodeValue(in.GetDefaultValue())
			if err != nil {
				return nil, err
			}
			if def, err = encodeTV(value); err != nil {
				return nil, err
			}
		}
		inputs = append(inputs, map[string]any{
			"name": in.GetName(), "type": in.GetType().GetDisplayName(), "required": in.GetRequired(),
			"default": def, "description": in.Description,
		})
	}
	outputs := []map[string]any{}
	for _, out := range op.GetOutputs() {
		outputs = append(outputs, map[string]any{
			"name": out.GetName(), "type": out.GetType().GetDisplayName(), "required": out.GetRequired(),
			"description": out.Description,
		})
	}
	var retry any
	if p := op.GetRetryPolicy(); p != nil {
		retry = map[string]any{
			"max_retries":   p.GetMaxRetries(),
			"delay_seconds": p.DelaySeconds,
			"backoff":       enumName(p.GetBackoff().String(), "BACKOFF_"),
			"jitter":        enumName(p.GetJitter().String(), "JITTER_"),
		}
	}
	var config any
	if shape := op.GetConfig().GetType().GetShapeType(); shape != nil {
		fields := [][2]any{}
		for _, f := range shape.GetFields() {
			fields = append(fields, [2]any{f.GetName(), f.GetRequired()})
		}
		config = fields
	}
	tags := map[string]string{}
	for k, v := range op.GetTags() {
		tags[k] = v
	}
	return map[string]any{
		"name": op.GetName(), "description": op.Description, "inputs": inputs, "outputs": outputs,
		"tags": tags, "retry": retry, "config": config,
	}, nil
}
