package prefectapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"perfect/internal/prefect"
	"perfect/internal/webhook"
	"perfect/store"
)

// maxLimit is Prefect's PREFECT_SERVER_API_DEFAULT_LIMIT.
const maxLimit = 200

// filterRequest is the body of POST /flow_runs/filter. The criteria
// perfect cannot evaluate are accepted only when empty.
type filterRequest struct {
	Sort           string          `json:"sort"`
	Limit          *int            `json:"limit"`
	Offset         int             `json:"offset"`
	Flows          *flowFilter     `json:"flows"`
	FlowRuns       *flowRunFilter  `json:"flow_runs"`
	Deployments    *depFilter      `json:"deployments"`
	TaskRuns       json.RawMessage `json:"task_runs"`
	WorkPools      json.RawMessage `json:"work_pools"`
	WorkPoolQueues json.RawMessage `json:"work_pool_queues"`
}

type anyFilter struct {
	Any    []string `json:"any_"`
	NotAny []string `json:"not_any_"`
	Like   *string  `json:"like_"`
	IsNull *bool    `json:"is_null_"`
	All    []string `json:"all_"`
}

type timeFilter struct {
	Before *time.Time `json:"before_"`
	After  *time.Time `json:"after_"`
	IsNull *bool      `json:"is_null_"`
}

type flowFilter struct {
	Operator string     `json:"operator"`
	ID       *anyFilter `json:"id"`
	Name     *anyFilter `json:"name"`
	Tags     *anyFilter `json:"tags"`
}

type depFilter struct {
	Operator string     `json:"operator"`
	ID       *anyFilter `json:"id"`
	Name     *anyFilter `json:"name"`
}

type stateFilter struct {
	Operator string     `json:"operator"`
	Type     *anyFilter `json:"type"`
	Name     *anyFilter `json:"name"`
}

type flowRunFilter struct {
	Operator               string       `json:"operator"`
	ID                     *anyFilter   `json:"id"`
	Name                   *anyFilter   `json:"name"`
	Tags                   *anyFilter   `json:"tags"`
	DeploymentID           *anyFilter   `json:"deployment_id"`
	WorkQueueName          *anyFilter   `json:"work_queue_name"`
	State                  *stateFilter `json:"state"`
	ExpectedStartTime      *timeFilter  `json:"expected_start_time"`
	NextScheduledStartTime *timeFilter  `json:"next_scheduled_start_time"`
	StartTime              *timeFilter  `json:"start_time"`
	EndTime                *timeFilter  `json:"end_time"`
	IdempotencyKey         *anyFilter   `json:"idempotency_key"`
}

var sorts = map[string]func(a, b prefect.FlowRun) bool{
	"ID_DESC":                       func(a, b prefect.FlowRun) bool { return a.ID > b.ID },
	"START_TIME_ASC":                func(a, b prefect.FlowRun) bool { return timeLess(a.StartTime, b.StartTime) },
	"START_TIME_DESC":               func(a, b prefect.FlowRun) bool { return timeLess(b.StartTime, a.StartTime) },
	"EXPECTED_START_TIME_ASC":       func(a, b prefect.FlowRun) bool { return timeLess(a.ExpectedStartTime, b.ExpectedStartTime) },
	"EXPECTED_START_TIME_DESC":      func(a, b prefect.FlowRun) bool { return timeLess(b.ExpectedStartTime, a.ExpectedStartTime) },
	"NEXT_SCHEDULED_START_TIME_ASC": func(a, b prefect.FlowRun) bool { return timeLess(a.NextScheduledStartTime, b.NextScheduledStartTime) },
	"NAME_ASC":                      func(a, b prefect.FlowRun) bool { return a.Name < b.Name },
	"NAME_DESC":                     func(a, b prefect.FlowRun) bool { return a.Name > b.Name },
	"END_TIME_DESC":                 func(a, b prefect.FlowRun) bool { return timeLess(b.EndTime, a.EndTime) },
}

// timeLess orders nil last.
func timeLess(a, b *time.Time) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return a.Before(*b)
}

func (a *API) handleFilter(w http.ResponseWriter, r *http.Request, b *backend) {
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	f, errs := parseFilter(body)
	if len(errs) > 0 {
		writeInvalid(w, body, errs...)
		return
	}
	now := b.eng.Now()
	var runs []store.Run
	if err := b.eng.DB().EachRun(func(run store.Run) bool {
		runs = append(runs, run)
		return true
	}); err != nil {
		a.internalError(w, r, err)
		return
	}
	out := []prefect.FlowRun{}
	for _, run := range runs {
		v, err := loadRun(b.eng.DB(), run)
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		fr := a.flowRun(v, now)
		if f.match(fr, a) {
			out = append(out, fr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return sorts[f.Sort](out[i], out[j]) })
	writeJSON(w, http.StatusOK, page(out, f.Offset, *f.Limit))
}

func page(runs []prefect.FlowRun, offset, limit int) []prefect.FlowRun {
	if offset >= len(runs) {
		return []prefect.FlowRun{}
	}
	return runs[offset:min(len(runs), offset+limit)]
}

func parseFilter(body []byte) (filterRequest, []webhook.FieldError) {
	var f filterRequest
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if errs := decodeStrict(body, &f); len(errs) > 0 {
		return f, errs
	}
	// Nested criteria perfect does not know are refused rather than
	// ignored, so a filter never silently matches more than asked.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&filterRequest{}); err != nil {
		return f, []webhook.FieldError{fieldError("value_error", "perfect cannot evaluate this filter: "+err.Error(), nil)}
	}
	var errs []webhook.FieldError
	if f.Sort == "" {
		f.Sort = "ID_DESC"
	}
	if _, ok := sorts[f.Sort]; !ok {
		errs = append(errs, fieldError("enum", "Input should be one of the FlowRunSort values perfect supports", f.Sort, "sort"))
	}
	if f.Limit == nil {
		f.Limit = ptr(maxLimit)
	}
	if *f.Limit < 0 || *f.Limit > maxLimit {
		errs = append(errs, fieldError("less_than_equal", "Input should be less than or equal to 200", *f.Limit, "limit"))
	}
	if f.Offset < 0 {
		errs = append(errs, fieldError("greater_than_equal", "Input should be greater than or equal to 0", f.Offset, "offset"))
	}
	for name, raw := range map[string]json.RawMessage{"task_runs": f.TaskRuns, "work_pools": f.WorkPools, "work_pool_queues": f.WorkPoolQueues} {
		if s := strings.TrimSpace(string(raw)); s != "" && s != "null" && s != "{}" {
			errs = append(errs, fieldError("value_error", "perfect cannot filter flow runs by "+name, nil, name))
		}
	}
	return f, errs
}

// match applies the filter's three groups (flows, deployments, flow runs).
func (f filterRequest) match(fr prefect.FlowRun, a *API) bool {
	var dep *deployment
	if fr.DeploymentID != nil {
		dep = a.byID[*fr.DeploymentID]
	}
	if f.Flows != nil && !f.Flows.match(fr, dep) {
		return false
	}
	if f.Deployments != nil && !f.Deployments.match(dep) {
		return false
	}
	return f.FlowRuns == nil || f.FlowRuns.match(fr)
}

func (f *flowFilter) match(fr prefect.FlowRun, dep *deployment) bool {
	name := ""
	var tags []string
	if dep != nil {
		name, tags = dep.flow, dep.tags
	}
	return combine(f.Operator,
		f.ID.matchOne(fr.FlowID, true),
		f.Name.matchOne(name, name != ""),
		f.Tags.matchTags(tags))
}

func (f *depFilter) match(dep *deployment) bool {
	if dep == nil {
		return f.ID == nil && f.Name == nil
	}
	return combine(f.Operator, f.ID.matchOne(dep.id, true), f.Name.matchOne(dep.flow, true))
}

func (f *flowRunFilter) match(fr prefect.FlowRun) bool {
	return combine(f.Operator,
		f.ID.matchOne(fr.ID, true),
		f.Name.matchOne(fr.Name, true),
		f.Tags.matchTags(fr.Tags),
		f.DeploymentID.matchOne(deref(fr.DeploymentID), fr.DeploymentID != nil),
		f.WorkQueueName.matchOne(deref(fr.WorkQueueName), fr.WorkQueueName != nil),
		f.State.match(fr),
		f.ExpectedStartTime.match(fr.ExpectedStartTime),
		f.NextScheduledStartTime.match(fr.NextScheduledStartTime),
		f.StartTime.match(fr.StartTime),
		f.EndTime.match(fr.EndTime),
		f.IdempotencyKey.matchOne(deref(fr.IdempotencyKey), fr.IdempotencyKey != nil))
}

func (f *stateFilter) match(fr prefect.FlowRun) *bool {
	if f == nil {
		return nil
	}
	return ptr(combine(f.Operator,
		f.Type.matchOne(string(*fr.StateType), true),
		f.Name.matchOne(*fr.StateName, true)))
}

// combine joins criterion results with and_ (the default) or or_; an
// absent criterion is true for and_ and ignored for or_.
func combine(op string, results ...*bool) bool {
	if op == "or_" {
		seen := false
		for _, r := range results {
			if r != nil && *r {
				return true
			}
			seen = seen || r != nil
		}
		return !seen
	}
	for _, r := range results {
		if r != nil && !*r {
			return false
		}
	}
	return true
}

// matchOne evaluates a criterion on one value; nil when absent.
func (f *anyFilter) matchOne(v string, present bool) *bool {
	if f == nil {
		return nil
	}
	ok := true
	if f.IsNull != nil {
		ok = ok && *f.IsNull == !present
	}
	if f.Any != nil {
		ok = ok && present && containsUUIDOrText(f.Any, v)
	}
	if f.NotAny != nil {
		ok = ok && !(present && containsUUIDOrText(f.NotAny, v))
	}
	if f.Like != nil {
		ok = ok && present && strings.Contains(strings.ToLower(v), strings.ToLower(*f.Like))
	}
	return &ok
}

func (f *anyFilter) matchTags(tags []string) *bool {
	if f == nil {
		return nil
	}
	ok := true
	if f.IsNull != nil {
		ok = ok && *f.IsNull == (len(tags) == 0)
	}
	for _, t := range f.All {
		ok = ok && slices.Contains(tags, t)
	}
	if f.Any != nil {
		ok = ok && slices.ContainsFunc(f.Any, func(t string) bool { return slices.Contains(tags, t) })
	}
	return &ok
}

func (f *timeFilter) match(t *time.Time) *bool {
	if f == nil {
		return nil
	}
	ok := true
	if f.IsNull != nil {
		ok = ok && *f.IsNull == (t == nil)
	}
	if f.Before != nil {
		ok = ok && t != nil && !t.After(*f.Before)
	}
	if f.After != nil {
		ok = ok && t != nil && !t.Before(*f.After)
	}
	return &ok
}

// containsUUIDOrText compares ids in any UUID spelling, other values as text.
func containsUUIDOrText(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
		if c, err := prefect.CanonicalUUID(x); err == nil && c == v {
			return true
		}
	}
	return false
}
