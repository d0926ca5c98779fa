package ophost

import (
	"time"

	ophostv1 "github.com/ophost-dev/ophost/client/go/gen/ophost/v1"
)

// Event is one event of an execution. Its concrete type is one of
// *ExecutionStarted, *StepStarted, *StepRestarted, *InputChecked,
// *OutputProduced, *AssetMaterialized, *AssetObserved, *ExpectationResult,
// *LogMessage, *RetryScheduled, *StepFailed, *StepSucceeded and
// *ExecutionFinished; use a
// type switch. Every kind embeds EventInfo (Sequence, Attempt, ...).
type Event interface {
	// Info returns the envelope common to every event.
	Info() EventInfo
	isEvent()
}

// EventInfo is the envelope every event carries.
type EventInfo struct {
	// ExecutionID is the execution the event belongs to.
	ExecutionID string
	// Sequence numbers the events of an execution 1, 2, 3, ... with no gaps.
	Sequence uint64
	// Attempt is 0 for the first attempt and n for the n-th retry.
	Attempt uint32
	// Time is when the server recorded the event (order by Sequence).
	Time time.Time
	// OpName is the op being executed.
	OpName string
}

// Info returns the envelope.
func (e EventInfo) Info() EventInfo { return e }

func (EventInfo) isEvent() {}

// ExecutionStarted is always the first event (sequence 1).
type ExecutionStarted struct {
	EventInfo
	// RequestID is the request id the execution was started with ("" if none).
	RequestID string
}

// StepStarted reports that the op body started its first attempt.
type StepStarted struct{ EventInfo }

// StepRestarted reports that the op body started a retry (Attempt is the new
// attempt). Outputs of earlier attempts no longer count.
type StepRestarted struct{ EventInfo }

// TypeCheck is the outcome of checking a value against its declared type.
type TypeCheck struct {
	// Success is true when the value has the expected type.
	Success bool
	// Description says why, when the check says (nil otherwise).
	Description *string
	// Metadata is what the check attached, in order.
	Metadata []*ophostv1.MetadataEntry
}

// InputChecked reports the type check of one input.
type InputChecked struct {
	EventInfo
	// InputName is the input that was checked.
	InputName string
	// TypeCheck is the outcome; a failure is followed by StepFailed.
	TypeCheck TypeCheck
}

// OutputProduced reports an output value. Values sent in chunks have
// already been reassembled and decoded.
type OutputProduced struct {
	EventInfo
	// OutputName is the output's name ("result" for a single output).
	OutputName string
	// Value is the decoded value (see DecodeValue).
	Value any
	// Metadata is attached to the output, in order.
	Metadata []*ophostv1.MetadataEntry
	// TypeCheck is the outcome of the output's type check (nil if absent).
	TypeCheck *TypeCheck
}

// AssetMaterialized reports that the op created or updated an asset.
type AssetMaterialized struct {
	EventInfo
	// AssetKey is the asset's path of components.
	AssetKey []string
	// Description says what was materialized (nil if not described).
	Description *string
	// Metadata is about the materialization, in order.
	Metadata []*ophostv1.MetadataEntry
	// Partition is the partition materialized (nil if none).
	Partition *string
	// Tags are attached to the materialization.
	Tags map[string]string
}

// AssetObserved reports what the op saw of an asset (metadata about it)
// without creating or updating it.
type AssetObserved struct {
	EventInfo
	// AssetKey is the asset's path of components.
	AssetKey []string
	// Description says what was observed (nil if not described).
	Description *string
	// Metadata is about the observation, in order.
	Metadata []*ophostv1.MetadataEntry
	// Partition is the partition observed (nil if none).
	Partition *string
	// Tags are attached to the observation.
	Tags map[string]string
}

// ExpectationResult reports a data-quality check; a failed one does not
// fail the op.
type ExpectationResult struct {
	EventInfo
	// Success is true when the expectation held.
	Success bool
	// Label names the expectation.
	Label string
	// Description says what was checked (nil if not described).
	Description *string
	// Metadata is about the result, in order.
	Metadata []*ophostv1.MetadataEntry
}

// LogMessage is a line the op logged.
type LogMessage struct {
	EventInfo
	// Level is the severity.
	Level ophostv1.LogLevel
	// Message is the formatted message.
	Message string
	// LoggerName is the Python logger that wrote it.
	LoggerName string
}

// RetryScheduled reports that a failed attempt will be retried.
type RetryScheduled struct {
	EventInfo
	// FailedAttempt is the attempt that failed.
	FailedAttempt uint32
	// NextAttempt is the attempt that runs next.
	NextAttempt uint32
	// DelaySeconds is the wait before the next attempt (negative: none).
	DelaySeconds float64
	// Error caused the retry.
	Error *ErrorData
}

// UserFailure is what an op attached when it raised Failure on purpose.
type UserFailure struct {
	// Description is the failure's description (nil if none).
	Description *string
	// Metadata is the failure's metadata, in order.
	Metadata []*ophostv1.MetadataEntry
}

// StepFailed reports that an attempt of the op failed.
type StepFailed struct {
	EventInfo
	// Error is the exception.
	Error *ErrorData
	// Source says who is responsible (user code, framework, interrupt, ...).
	Source ophostv1.ErrorSource
	// UserFailure is set when the op raised Failure.
	UserFailure *UserFailure
	// WillRetry is true when another attempt follows.
	WillRetry bool
}

// StepSucceeded reports that the op body finished successfully.
type StepSucceeded struct {
	EventInfo
	// Duration is how long the successful attempt ran.
	Duration time.Duration
}

// ExecutionFinished is always the last event.
type ExecutionFinished struct {
	EventInfo
	// Status is how the execution ended.
	Status ophostv1.ExecutionStatus
	// Error ended the execution (set when Status is FAILED).
	Error *ErrorData
	// CancelRequested is true when a cancel was requested before the end,
	// whatever Status says.
	CancelRequested bool
	// CancelOutcome says how a canceled execution was stopped.
	CancelOutcome ophostv1.CancelOutcome
}

// newEvent converts a wire event whose output value (if any) is inline. It
// returns nil for kinds this client does not know, which are skipped.
func newEvent(e *ophostv1.Event) (Event, error) {
	info := EventInfo{
		ExecutionID: e.GetExecutionId(),
		Sequence:    e.GetSequence(),
		Attempt:     e.GetAttempt(),
		OpName:      e.GetOpName(),
	}
	if ts := e.GetTimestamp(); ts != nil {
		info.Time = ts.AsTime()
	}
	switch kind := e.GetKind().(type) {
	case *ophostv1.Event_ExecutionStarted:
		return &ExecutionStarted{EventInfo: info, RequestID: kind.ExecutionStarted.GetRequestId()}, nil
	case *ophostv1.Event_StepStarted:
		return &StepStarted{EventInfo: info}, nil
	case *ophostv1.Event_StepRestarted:
		return &StepRestarted{EventInfo: info}, nil
	case *ophostv1.Event_InputChecked:
		check := newTypeCheck(kind.InputChecked.GetTypeCheck())
		if check == nil {
			check = &TypeCheck{}
		}
		return &InputChecked{EventInfo: info, InputName: kind.InputChecked.GetInputName(), TypeCheck: *check}, nil
	case *ophostv1.Event_Output:
		out := kind.Output
		value, err := decode(out.GetValue(), "outputs."+out.GetOutputName())
		if err != nil {
			return nil, err
		}
		return &OutputProduced{
			EventInfo:  info,
			OutputName: out.GetOutputName(),
			Value:      value,
			Metadata:   out.GetMetadata(),
			TypeCheck:  newTypeCheck(out.GetTypeCheck()),
		}, nil
	case *ophostv1.Event_AssetMaterialization:
		m := kind.AssetMaterialization
		return &AssetMaterialized{
			EventInfo:   info,
			AssetKey:    m.GetAssetKey().GetPath(),
			Description: m.Description,
			Metadata:    m.GetMetadata(),
			Partition:   m.Partition,
			Tags:        m.GetTags(),
		}, nil
	case *ophostv1.Event_AssetObservation:
		o := kind.AssetObservation
		return &AssetObserved{
			EventInfo:   info,
			AssetKey:    o.GetAssetKey().GetPath(),
			Description: o.Description,
			Metadata:    o.GetMetadata(),
			Partition:   o.Partition,
			Tags:        o.GetTags(),
		}, nil
	case *ophostv1.Event_ExpectationResult:
		r := kind.ExpectationResult
		return &ExpectationResult{
			EventInfo:   info,
			Success:     r.GetSuccess(),
			Label:       r.GetLabel(),
			Description: r.Description,
			Metadata:    r.GetMetadata(),
		}, nil
	case *ophostv1.Event_Log:
		return &LogMessage{
			EventInfo:  info,
			Level:      kind.Log.GetLevel(),
			Message:    kind.Log.GetMessage(),
			LoggerName: kind.Log.GetLoggerName(),
		}, nil
	case *ophostv1.Event_RetryScheduled:
		r := kind.RetryScheduled
		return &RetryScheduled{
			EventInfo:     info,
			FailedAttempt: r.GetFailedAttempt(),
			NextAttempt:   r.GetNextAttempt(),
			DelaySeconds:  r.GetDelaySeconds(),
			Error:         newErrorData(r.GetError()),
		}, nil
	case *ophostv1.Event_StepFailure:
		f := kind.StepFailure
		event := &StepFailed{
			EventInfo: info,
			Error:     newErrorData(f.GetError()),
			Source:    f.GetErrorSource(),
			WillRetry: f.GetWillRetry(),
		}
		if u := f.GetUserFailure(); u != nil {
			event.UserFailure = &UserFailure{Description: u.Description, Metadata: u.GetMetadata()}
		}
		return event, nil
	case *ophostv1.Event_StepSuccess:
		return &StepSucceeded{EventInfo: info, Duration: kind.StepSuccess.GetDuration().AsDuration()}, nil
	case *ophostv1.Event_ExecutionFinished:
		f := kind.ExecutionFinished
		return &ExecutionFinished{
			EventInfo:       info,
			Status:          f.GetStatus(),
			Error:           newErrorData(f.GetError()),
			CancelRequested: f.GetCancelRequested(),
			CancelOutcome:   f.GetCancelOutcome(),
		}, nil
	}
	return nil, nil
}

func newTypeCheck(c *ophostv1.TypeCheckResult) *TypeCheck {
	if c == nil {
		return nil
	}
	return &TypeCheck{Success: c.GetSuccess(), Description: c.Description, Metadata: c.GetMetadata()}
}
