package prefect

import (
	"encoding/json"
	"time"
)

// StateType is a Prefect run state type.
type StateType string

// The state types of Prefect 3. COMPLETED, FAILED, CANCELLED and CRASHED
// are terminal.
const (
	Scheduled  StateType = "SCHEDULED"
	Pending    StateType = "PENDING"
	Running    StateType = "RUNNING"
	Completed  StateType = "COMPLETED"
	Failed     StateType = "FAILED"
	Cancelled  StateType = "CANCELLED"
	Crashed    StateType = "CRASHED"
	Paused     StateType = "PAUSED"
	Cancelling StateType = "CANCELLING"
)

// Valid reports whether t is one of Prefect's state types.
func (t StateType) Valid() bool {
	switch t {
	case Scheduled, Pending, Running, Completed, Failed, Cancelled, Crashed, Paused, Cancelling:
		return true
	}
	return false
}

// Terminal reports whether no run leaves t on its own.
func (t StateType) Terminal() bool {
	switch t {
	case Completed, Failed, Cancelled, Crashed:
		return true
	}
	return false
}

// DisplayName is the default state name of a type ("Scheduled").
func (t StateType) DisplayName() string {
	if t == "" {
		return ""
	}
	return string(t[0]) + lowerASCII(string(t[1:]))
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Deployment is Prefect's DeploymentResponse (external-apis §1.2).
type Deployment struct {
	ID                       string          `json:"id"`
	Created                  *time.Time      `json:"created"`
	Updated                  *time.Time      `json:"updated"`
	Name                     string          `json:"name"`
	Version                  *string         `json:"version"`
	Description              *string         `json:"description"`
	FlowID                   string          `json:"flow_id"`
	Paused                   bool            `json:"paused"`
	Schedules                []any           `json:"schedules"`
	ConcurrencyLimit         *int            `json:"concurrency_limit"`
	GlobalConcurrencyLimit   any             `json:"global_concurrency_limit"`
	ConcurrencyOptions       any             `json:"concurrency_options"`
	JobVariables             map[string]any  `json:"job_variables"`
	Parameters               map[string]any  `json:"parameters"`
	Tags                     []string        `json:"tags"`
	Labels                   map[string]any  `json:"labels"`
	WorkQueueName            *string         `json:"work_queue_name"`
	WorkQueueID              *string         `json:"work_queue_id"`
	WorkPoolName             *string         `json:"work_pool_name"`
	LastPolled               *time.Time      `json:"last_polled"`
	Status                   string          `json:"status"`
	ParameterOpenAPISchema   json.RawMessage `json:"parameter_openapi_schema"`
	EnforceParameterSchema   bool            `json:"enforce_parameter_schema"`
	Entrypoint               *string         `json:"entrypoint"`
	Path                     *string         `json:"path"`
	PullSteps                []any           `json:"pull_steps"`
	StorageDocumentID        *string         `json:"storage_document_id"`
	InfrastructureDocumentID *string         `json:"infrastructure_document_id"`
	CreatedBy                any             `json:"created_by"`
	UpdatedBy                any             `json:"updated_by"`
}

// StateDetails are the details of a state (external-apis §1.4).
type StateDetails struct {
	FlowRunID                    *string        `json:"flow_run_id"`
	TaskRunID                    *string        `json:"task_run_id"`
	ChildFlowRunID               *string        `json:"child_flow_run_id"`
	ScheduledTime                *time.Time     `json:"scheduled_time"`
	CacheKey                     *string        `json:"cache_key"`
	CacheExpiration              *time.Time     `json:"cache_expiration"`
	Deferred                     *bool          `json:"deferred"`
	UntrackableResult            bool           `json:"untrackable_result"`
	PauseTimeout                 *time.Time     `json:"pause_timeout"`
	PauseReschedule              bool           `json:"pause_reschedule"`
	PauseKey                     *string        `json:"pause_key"`
	RunInputKeyset               map[string]any `json:"run_input_keyset"`
	RefreshCache                 *bool          `json:"refresh_cache"`
	Retriable                    *bool          `json:"retriable"`
	TransitionID                 *string        `json:"transition_id"`
	TaskParametersID             *string        `json:"task_parameters_id"`
	Traceparent                  *string        `json:"traceparent"`
	DeploymentConcurrencyLeaseID *string        `json:"deployment_concurrency_lease_id"`
}

// State is a run's state as Prefect returns it.
type State struct {
	ID           string       `json:"id"`
	Type         StateType    `json:"type"`
	Name         string       `json:"name"`
	Timestamp    time.Time    `json:"timestamp"`
	Message      *string      `json:"message"`
	Data         any          `json:"data"`
	StateDetails StateDetails `json:"state_details"`
}

// EmpiricalPolicy is a flow run's retry policy.
type EmpiricalPolicy struct {
	MaxRetries        int      `json:"max_retries"`
	RetryDelaySeconds float64  `json:"retry_delay_seconds"`
	Retries           *int     `json:"retries"`
	RetryDelay        *int     `json:"retry_delay"`
	PauseKeys         []string `json:"pause_keys"`
	Resuming          bool     `json:"resuming"`
	RetryType         *string  `json:"retry_type"`
}

// FlowRun is Prefect's FlowRun response (external-apis §1.4).
type FlowRun struct {
	ID                       string          `json:"id"`
	Created                  *time.Time      `json:"created"`
	Updated                  *time.Time      `json:"updated"`
	Name                     string          `json:"name"`
	FlowID                   string          `json:"flow_id"`
	StateID                  *string         `json:"state_id"`
	DeploymentID             *string         `json:"deployment_id"`
	DeploymentVersion        *string         `json:"deployment_version"`
	WorkQueueID              *string         `json:"work_queue_id"`
	WorkQueueName            *string         `json:"work_queue_name"`
	FlowVersion              *string         `json:"flow_version"`
	Parameters               json.RawMessage `json:"parameters"`
	IdempotencyKey           *string         `json:"idempotency_key"`
	Context                  map[string]any  `json:"context"`
	EmpiricalPolicy          EmpiricalPolicy `json:"empirical_policy"`
	Tags                     []string        `json:"tags"`
	Labels                   map[string]any  `json:"labels"`
	ParentTaskRunID          *string         `json:"parent_task_run_id"`
	StateType                *StateType      `json:"state_type"`
	StateName                *string         `json:"state_name"`
	RunCount                 int             `json:"run_count"`
	ExpectedStartTime        *time.Time      `json:"expected_start_time"`
	NextScheduledStartTime   *time.Time      `json:"next_scheduled_start_time"`
	StartTime                *time.Time      `json:"start_time"`
	EndTime                  *time.Time      `json:"end_time"`
	TotalRunTime             float64         `json:"total_run_time"`
	EstimatedRunTime         float64         `json:"estimated_run_time"`
	EstimatedStartTimeDelta  float64         `json:"estimated_start_time_delta"`
	AutoScheduled            bool            `json:"auto_scheduled"`
	InfrastructureDocumentID *string         `json:"infrastructure_document_id"`
	InfrastructurePID        *string         `json:"infrastructure_pid"`
	CreatedBy                any             `json:"created_by"`
	WorkPoolID               *string         `json:"work_pool_id"`
	WorkPoolName             *string         `json:"work_pool_name"`
	JobVariables             map[string]any  `json:"job_variables"`
	State                    *State          `json:"state"`
}

// StateCreate is the state sent when creating a run or setting its state.
type StateCreate struct {
	Type         StateType           `json:"type"`
	Name         string              `json:"name,omitempty"`
	Message      *string             `json:"message,omitempty"`
	StateDetails *StateDetailsCreate `json:"state_details,omitempty"`
}

// StateDetailsCreate is the part of the state details a client sets.
type StateDetailsCreate struct {
	ScheduledTime *time.Time `json:"scheduled_time,omitempty"`
}

// FlowRunCreate is the body of POST /deployments/{id}/create_flow_run
// (DeploymentFlowRunCreate) as perfect sends it: only fields it sets.
type FlowRunCreate struct {
	State          *StateCreate   `json:"state,omitempty"`
	Name           string         `json:"name,omitempty"`
	Parameters     map[string]any `json:"parameters"`
	Tags           []string       `json:"tags,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
}

// SetState is the body of POST /flow_runs/{id}/set_state.
type SetState struct {
	State StateCreate `json:"state"`
	Force bool        `json:"force"`
}

// Orchestration statuses of a set_state answer.
const (
	Accept = "ACCEPT"
	Reject = "REJECT"
	Abort  = "ABORT"
	Wait   = "WAIT"
)

// OrchestrationResult is the answer to set_state (external-apis §1.6).
type OrchestrationResult struct {
	State   *State              `json:"state"`
	Status  string              `json:"status"`
	Details OrchestrationDetail `json:"details"`
}

// OrchestrationDetail says why a transition was accepted, rejected,
// aborted or delayed.
type OrchestrationDetail struct {
	Type         string   `json:"type"`
	Reason       string   `json:"reason,omitempty"`
	DelaySeconds *float64 `json:"delay_seconds,omitempty"`
}

// Cancelled reports whether the run ended up cancelled: an accepted
// CANCELLED or CANCELLING, or Prefect's reject-with-Cancelled for runs with
// no infrastructure.
func (r OrchestrationResult) Cancelled() bool {
	if r.State == nil {
		return false
	}
	switch r.Status {
	case Accept:
		return r.State.Type == Cancelled || r.State.Type == Cancelling
	case Reject:
		return r.State.Type == Cancelled
	}
	return false
}

// BlockDocument is a block document read by name (external-apis §1.7).
type BlockDocument struct {
	ID            string                     `json:"id"`
	Name          string                     `json:"name"`
	Data          map[string]json.RawMessage `json:"data"`
	BlockTypeName string                     `json:"block_type_name"`
	IsAnonymous   bool                       `json:"is_anonymous"`
}
