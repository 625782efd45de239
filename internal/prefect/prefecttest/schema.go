// Package prefecttest is a fake Prefect 3 server for tests, and checks of
// request and response bodies against Prefect's schemas. The fake refuses
// what Prefect refuses (unknown fields, bad states, parameters outside a
// deployment's contract) and records every violation, so a test can assert
// that perfect never sent one.
package prefecttest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// createFields are the fields of DeploymentFlowRunCreate (Prefect 3.4);
// the model forbids any other.
var createFields = []string{
	"state", "name", "parameters", "enforce_parameter_schema", "context",
	"infrastructure_document_id", "empirical_policy", "tags", "idempotency_key",
	"parent_task_run_id", "work_queue_name", "job_variables", "labels",
}

// stateCreateFields are the fields of StateCreate.
var stateCreateFields = []string{"type", "name", "message", "data", "state_details"}

// stateDetailFields are the fields of StateDetails.
var stateDetailFields = []string{
	"flow_run_id", "task_run_id", "child_flow_run_id", "scheduled_time", "cache_key",
	"cache_expiration", "deferred", "untrackable_result", "pause_timeout", "pause_reschedule",
	"pause_key", "run_input_keyset", "refresh_cache", "retriable", "transition_id",
	"task_parameters_id", "traceparent", "deployment_concurrency_lease_id",
}

var stateTypes = []string{
	"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING",
}

// flowRunFields are the fields of a FlowRun answer (external-apis §1.4).
// Answers of servers older than 3.x lack newerFlowRunFields.
var flowRunFields = []string{
	"id", "created", "updated", "name", "flow_id", "state_id", "deployment_id",
	"deployment_version", "work_queue_id", "work_queue_name", "flow_version", "parameters",
	"idempotency_key", "context", "empirical_policy", "tags", "labels", "parent_task_run_id",
	"state_type", "state_name", "run_count", "expected_start_time", "next_scheduled_start_time",
	"start_time", "end_time", "total_run_time", "estimated_run_time",
	"estimated_start_time_delta", "auto_scheduled", "infrastructure_document_id",
	"infrastructure_pid", "created_by", "work_pool_id", "work_pool_name", "job_variables", "state",
}

var newerFlowRunFields = []string{"deployment_version", "labels", "job_variables"}

// deploymentFields are the fields of a DeploymentResponse (external-apis §1.2).
var deploymentFields = []string{
	"id", "created", "updated", "name", "version", "description", "flow_id", "paused",
	"schedules", "concurrency_limit", "global_concurrency_limit", "concurrency_options",
	"job_variables", "parameters", "tags", "labels", "work_queue_name", "work_queue_id",
	"work_pool_name", "last_polled", "status", "parameter_openapi_schema",
	"enforce_parameter_schema", "entrypoint", "path", "pull_steps", "storage_document_id",
	"infrastructure_document_id", "created_by", "updated_by",
}

// Param is one parameter of a deployment's flow function.
type Param struct {
	Name     string
	Required bool
	// Nullable parameters accept null (Optional[...] = None).
	Nullable bool
	// Type is "string", "integer", "number", "boolean", "array" or "" (any).
	Type string
}

// Contract is the parameter set of a deployment's flow. A nil Contract
// accepts any parameters.
type Contract []Param

// SendEmailContract is christmas-send-email's signature, written from the
// legacy description (legacy §2.3, §11.2, errata 1): a closed set, email
// and email_number required, first_name, business_name and segment plain
// strings with defaults (null refused), the other eleven nullable.
var SendEmailContract = Contract{
	{Name: "email", Required: true, Type: "string"},
	{Name: "email_number", Required: true, Type: "integer"},
	{Name: "first_name", Type: "string"},
	{Name: "business_name", Type: "string"},
	{Name: "segment", Type: "string"},
	{Name: "assessment_score", Nullable: true, Type: "integer"},
	{Name: "red_systems", Nullable: true, Type: "integer"},
	{Name: "orange_systems", Nullable: true, Type: "integer"},
	{Name: "yellow_systems", Nullable: true, Type: "integer"},
	{Name: "green_systems", Nullable: true, Type: "integer"},
	{Name: "gps_score", Nullable: true, Type: "integer"},
	{Name: "money_score", Nullable: true, Type: "integer"},
	{Name: "weakest_system_1", Nullable: true, Type: "string"},
	{Name: "weakest_system_2", Nullable: true, Type: "string"},
	{Name: "strongest_system", Nullable: true, Type: "string"},
	{Name: "revenue_leak_total", Nullable: true, Type: "integer"},
}

// HandlerContracts are the signatures of the legacy handler flows (legacy
// §2.2, §2.4–2.6), by flow name.
var HandlerContracts = map[string]Contract{
	"christmas-signup-handler": {
		{Name: "email", Required: true, Type: "string"},
		{Name: "first_name", Required: true, Type: "string"},
		{Name: "business_name", Required: true, Type: "string"},
		{Name: "assessment_score", Required: true, Type: "integer"},
		{Name: "red_systems", Type: "integer"}, {Name: "orange_systems", Type: "integer"},
		{Name: "yellow_systems", Type: "integer"}, {Name: "green_systems", Type: "integer"},
		{Name: "gps_score", Nullable: true, Type: "integer"},
		{Name: "money_score", Nullable: true, Type: "integer"},
		{Name: "weakest_system_1", Nullable: true, Type: "string"},
		{Name: "weakest_system_2", Nullable: true, Type: "string"},
		{Name: "strongest_system", Nullable: true, Type: "string"},
		{Name: "revenue_leak_total", Nullable: true, Type: "integer"},
	},
	"christmas-noshow-recovery-handler": {
		{Name: "email", Required: true, Type: "string"},
		{Name: "first_name", Required: true, Type: "string"},
		{Name: "business_name", Required: true, Type: "string"},
		{Name: "calendly_event_uri", Required: true, Type: "string"},
		{Name: "scheduled_time", Required: true, Type: "string"},
		{Name: "event_type", Type: "string"},
		{Name: "reschedule_url", Nullable: true, Type: "string"},
	},
	"christmas-postcall-maybe-handler": {
		{Name: "email", Required: true, Type: "string"},
		{Name: "first_name", Required: true, Type: "string"},
		{Name: "business_name", Required: true, Type: "string"},
		{Name: "call_date", Required: true, Type: "string"},
		{Name: "call_outcome", Type: "string"},
		{Name: "call_notes", Nullable: true, Type: "string"},
		{Name: "objections", Nullable: true, Type: "array"},
		{Name: "follow_up_priority", Type: "string"},
	},
	"christmas-onboarding-handler": {
		{Name: "email", Required: true, Type: "string"},
		{Name: "first_name", Required: true, Type: "string"},
		{Name: "business_name", Required: true, Type: "string"},
		{Name: "payment_confirmed", Required: true, Type: "boolean"},
		{Name: "payment_amount", Required: true, Type: "number"},
		{Name: "payment_date", Required: true, Type: "string"},
		{Name: "docusign_completed", Type: "boolean"},
		{Name: "salon_address", Nullable: true, Type: "string"},
		{Name: "observation_dates", Nullable: true, Type: "array"},
		{Name: "start_date", Nullable: true, Type: "string"},
		{Name: "package_type", Type: "string"},
	},
}

// Check validates parameters against the contract and returns every
// problem found.
func (c Contract) Check(params map[string]any) []string {
	if c == nil {
		return nil
	}
	var probs []string
	byName := map[string]Param{}
	for _, p := range c {
		byName[p.Name] = p
		if _, ok := params[p.Name]; p.Required && !ok {
			probs = append(probs, fmt.Sprintf("parameter %s is required", p.Name))
		}
	}
	for _, k := range sortedKeys(params) {
		p, ok := byName[k]
		if !ok {
			probs = append(probs, fmt.Sprintf("parameter %s is not in the flow's signature", k))
			continue
		}
		if msg := p.check(params[k]); msg != "" {
			probs = append(probs, fmt.Sprintf("parameter %s: %s", k, msg))
		}
	}
	return probs
}

func (p Param) check(v any) string {
	if v == nil {
		if p.Nullable {
			return ""
		}
		return "null is not allowed"
	}
	switch p.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("want a string, got %T", v)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Sprintf("want an integer, got %v", v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Sprintf("want a number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("want a boolean, got %T", v)
		}
	case "array":
		if _, ok := v.([]any); !ok {
			return fmt.Sprintf("want an array, got %T", v)
		}
	}
	return ""
}

// offsetTime matches an RFC 3339 time with an explicit offset (Z or ±hh:mm).
var offsetTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// CheckCreateBody validates a create_flow_run body against
// DeploymentFlowRunCreate and returns it decoded, with every problem.
func CheckCreateBody(body []byte) (map[string]any, []string) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, []string{"body is not a JSON object: " + err.Error()}
	}
	probs := unknownKeys("body", m, createFields)
	if v, ok := m["parameters"]; ok {
		if _, isObj := v.(map[string]any); !isObj {
			probs = append(probs, "parameters must be an object")
		}
	}
	probs = append(probs, checkOptString(m, "name")...)
	probs = append(probs, checkOptString(m, "idempotency_key")...)
	if v, ok := m["tags"]; ok && v != nil {
		tags, isList := v.([]any)
		if !isList {
			probs = append(probs, "tags must be a list")
		}
		for _, t := range tags {
			if _, s := t.(string); !s {
				probs = append(probs, "tags must hold strings")
			}
		}
	}
	if s, ok := m["state"]; ok && s != nil {
		probs = append(probs, checkState(s)...)
	}
	return m, probs
}

// CheckSetStateBody validates a set_state body.
func CheckSetStateBody(body []byte) (map[string]any, []string) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, []string{"body is not a JSON object: " + err.Error()}
	}
	probs := unknownKeys("body", m, []string{"state", "force"})
	s, ok := m["state"]
	if !ok || s == nil {
		return m, append(probs, "state is required")
	}
	return m, append(probs, checkState(s)...)
}

func checkState(v any) []string {
	s, ok := v.(map[string]any)
	if !ok {
		return []string{"state must be an object"}
	}
	probs := unknownKeys("state", s, stateCreateFields)
	typ, _ := s["type"].(string)
	if !slices.Contains(stateTypes, typ) {
		probs = append(probs, fmt.Sprintf("state.type %v is not a StateType", s["type"]))
	}
	probs = append(probs, checkOptString(s, "name")...)
	d, ok := s["state_details"]
	if !ok || d == nil {
		return probs
	}
	details, isObj := d.(map[string]any)
	if !isObj {
		return append(probs, "state.state_details must be an object")
	}
	probs = append(probs, unknownKeys("state.state_details", details, stateDetailFields)...)
	if st, ok := details["scheduled_time"]; ok && st != nil {
		text, _ := st.(string)
		if !offsetTime.MatchString(text) {
			probs = append(probs, fmt.Sprintf("state.state_details.scheduled_time %v is not RFC 3339 with an offset", st))
		}
	}
	return probs
}

func checkOptString(m map[string]any, key string) []string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	if _, s := v.(string); !s {
		return []string{key + " must be a string or null"}
	}
	return nil
}

func unknownKeys(where string, m map[string]any, known []string) []string {
	var probs []string
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			probs = append(probs, fmt.Sprintf("%s: extra field %q is not permitted", where, k))
		}
	}
	return probs
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckFlowRun validates a FlowRun answer: every field present, ids that
// are UUIDs, times with offsets, a state whose type matches state_type.
func CheckFlowRun(body []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return []string{"flow run is not a JSON object: " + err.Error()}
	}
	var required []string
	for _, k := range flowRunFields {
		if !slices.Contains(newerFlowRunFields, k) {
			required = append(required, k)
		}
	}
	probs := missingKeys("flow run", m, required)
	probs = append(probs, checkUUID(m, "id", false)...)
	probs = append(probs, checkUUID(m, "flow_id", false)...)
	probs = append(probs, checkUUID(m, "deployment_id", true)...)
	for _, k := range []string{"created", "updated", "expected_start_time", "next_scheduled_start_time", "start_time", "end_time"} {
		probs = append(probs, checkTime(m, k)...)
	}
	if _, ok := m["parameters"].(map[string]any); !ok {
		probs = append(probs, "flow run parameters must be an object")
	}
	state, ok := m["state"].(map[string]any)
	if !ok {
		return append(probs, "flow run state must be an object")
	}
	probs = append(probs, missingKeys("state", state, []string{"id", "type", "name", "timestamp", "message", "data", "state_details"})...)
	if state["type"] != m["state_type"] || state["name"] != m["state_name"] {
		probs = append(probs, "state type and name must match state_type and state_name")
	}
	if typ, _ := state["type"].(string); !slices.Contains(stateTypes, typ) {
		probs = append(probs, fmt.Sprintf("state type %v is not a StateType", state["type"]))
	}
	probs = append(probs, checkTime(state, "timestamp")...)
	if d, ok := state["state_details"].(map[string]any); ok {
		probs = append(probs, checkTime(d, "scheduled_time")...)
	} else {
		probs = append(probs, "state_details must be an object")
	}
	return probs
}

// CheckFlowRunStrict is CheckFlowRun for answers that claim Prefect 3.4:
// the fields added in 3.x must be present too.
func CheckFlowRunStrict(body []byte) []string {
	probs := CheckFlowRun(body)
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		probs = append(probs, missingKeys("flow run", m, newerFlowRunFields)...)
	}
	return probs
}

// CheckDeployment validates a DeploymentResponse.
func CheckDeployment(body []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return []string{"deployment is not a JSON object: " + err.Error()}
	}
	probs := missingKeys("deployment", m, deploymentFields)
	probs = append(probs, checkUUID(m, "id", false)...)
	probs = append(probs, checkUUID(m, "flow_id", false)...)
	if s := m["status"]; s != "READY" && s != "NOT_READY" {
		probs = append(probs, fmt.Sprintf("deployment status %v is not READY or NOT_READY", s))
	}
	return probs
}

// CheckOrchestrationResult validates a set_state answer.
func CheckOrchestrationResult(body []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return []string{"orchestration result is not a JSON object: " + err.Error()}
	}
	probs := missingKeys("orchestration result", m, []string{"state", "status", "details"})
	if !slices.Contains([]any{"ACCEPT", "REJECT", "ABORT", "WAIT"}, m["status"]) {
		probs = append(probs, fmt.Sprintf("status %v is not a SetStateStatus", m["status"]))
	}
	d, _ := m["details"].(map[string]any)
	want := map[any]string{"ACCEPT": "accept_details", "REJECT": "reject_details",
		"ABORT": "abort_details", "WAIT": "wait_details"}[m["status"]]
	if d == nil || d["type"] != want {
		probs = append(probs, fmt.Sprintf("details.type must be %s", want))
	}
	return probs
}

func missingKeys(where string, m map[string]any, want []string) []string {
	var probs []string
	for _, k := range want {
		if _, ok := m[k]; !ok {
			probs = append(probs, fmt.Sprintf("%s: field %q is missing", where, k))
		}
	}
	return probs
}

var uuidText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func checkUUID(m map[string]any, key string, nullable bool) []string {
	v := m[key]
	if v == nil && nullable {
		return nil
	}
	if s, _ := v.(string); !uuidText.MatchString(s) {
		return []string{fmt.Sprintf("%s %v is not a UUID", key, v)}
	}
	return nil
}

func checkTime(m map[string]any, key string) []string {
	v := m[key]
	if v == nil {
		return nil
	}
	s, _ := v.(string)
	if !offsetTime.MatchString(s) {
		return []string{fmt.Sprintf("%s %v is not RFC 3339 with an offset", key, v)}
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return []string{fmt.Sprintf("%s %v: %v", key, v, err)}
	}
	if i := strings.IndexByte(s, '.'); i > 0 {
		frac := strings.IndexAny(s[i:], "Z+-")
		if frac-1 > 6 {
			return []string{fmt.Sprintf("%s %v has more than microsecond precision", key, v)}
		}
	}
	return nil
}
