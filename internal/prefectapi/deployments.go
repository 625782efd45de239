package prefectapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"perfect/flows"
	"perfect/internal/prefect"
)

// deployment is one deployment perfect offers: a flow of its own under its
// legacy name, <flow>/<flow>.
type deployment struct {
	flow   string
	id     string
	flowID string
	tags   []string
	params []string
}

func (d *deployment) fullName() string { return d.flow + "/" + d.flow }

// legacyTags are the tags prefect.yaml gave the legacy deployments
// (legacy §11.1); the BusinessX flows had none and get one for filtering.
var legacyTags = map[string][]string{
	flows.ChristmasSignup:   {"christmas", "christmas-2025", "email-nurture"},
	flows.ChristmasSendMail: {"christmas", "christmas-2025", "email-nurture"},
	flows.NoShowRecovery:    {"christmas", "christmas-2025", "noshow-recovery"},
	flows.PostCallMaybe:     {"christmas", "christmas-2025", "postcall-followup"},
	flows.Onboarding:        {"christmas", "christmas-2025", "onboarding"},
	flows.PreCallPrep:       {"christmas", "christmas-2025"},
	flows.BusinessXSignup:   {"businessx"},
	flows.BusinessXAssess:   {"businessx"},
}

// offeredFlows are the flows perfect answers for: every flow a webhook
// starts, and the legacy sender.
func offeredFlows() []string {
	var names []string
	for _, f := range flows.All() {
		if f.Path != "" {
			names = append(names, f.Name)
		}
	}
	return append(names, flows.ChristmasSendMail)
}

// Offered lists the flows whose deployments perfect offers, sorted.
func Offered() []string {
	names := offeredFlows()
	sort.Strings(names)
	return names
}

// DeploymentID is the id perfect answers with for a flow's deployment when
// PREFECT_DEPLOYMENT_IDS does not set one: a name-based UUID, the same on
// every start and every machine.
func DeploymentID(flow string) string {
	return prefect.NameUUID("deployment:" + flow + "/" + flow)
}

// ParseDeploymentIDs reads PREFECT_DEPLOYMENT_IDS, a comma-separated list
// of flow=uuid pairs, so callers keep the deployment ids they already use.
// The flow may also be written in full, flow/flow.
func ParseDeploymentIDs(s string) (map[string]string, error) {
	out := map[string]string{}
	seen := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, id, ok := strings.Cut(part, "=")
		name, id = strings.TrimSpace(name), strings.TrimSpace(id)
		if !ok {
			return nil, fmt.Errorf("PREFECT_DEPLOYMENT_IDS: %q is not flow=uuid", part)
		}
		flow, dep, full := strings.Cut(name, "/")
		if full && dep != flow {
			return nil, fmt.Errorf("PREFECT_DEPLOYMENT_IDS: perfect offers %s/%s, not %s", flow, flow, name)
		}
		if !isOffered(flow) {
			return nil, fmt.Errorf("PREFECT_DEPLOYMENT_IDS: unknown deployment %q (offered: %s)",
				name, strings.Join(offeredFlows(), ", "))
		}
		canon, err := prefect.CanonicalUUID(id)
		if err != nil {
			return nil, fmt.Errorf("PREFECT_DEPLOYMENT_IDS: %s: %q is not a UUID", name, id)
		}
		if other, dup := seen[canon]; dup && other != flow {
			return nil, fmt.Errorf("PREFECT_DEPLOYMENT_IDS: %s and %s have the same id", other, flow)
		}
		seen[canon], out[flow] = flow, canon
	}
	return out, nil
}

func isOffered(flow string) bool {
	for _, f := range offeredFlows() {
		if f == flow {
			return true
		}
	}
	return false
}

// buildDeployments returns the offered deployments, ids overridden by ids.
func buildDeployments(ids map[string]string) []*deployment {
	var out []*deployment
	for _, flow := range offeredFlows() {
		d := &deployment{
			flow: flow, id: DeploymentID(flow), flowID: prefect.NameUUID("flow:" + flow),
			tags: legacyTags[flow], params: parameterNames(flow),
		}
		if id, ok := ids[flow]; ok {
			d.id = id
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].flow < out[j].flow })
	return out
}

// parameterNames are the parameters a deployment takes: the legacy
// signature for the Prefect flows, the webhook's fields otherwise.
func parameterNames(flow string) []string {
	if flow == flows.ChristmasSendMail {
		return prefect.SendEmailParameterNames()
	}
	if names := prefect.HandlerParameterNames(flow); names != nil {
		return names
	}
	return webhookFields[flow]
}

// webhookFields are the fields of the webhooks whose flows had no Prefect
// deployment (legacy §1.4, §1.5, §2.7).
var webhookFields = map[string][]string{
	flows.BusinessXSignup: {"email", "name", "first_name", "business_name", "signup_source"},
	flows.BusinessXAssess: {"email", "red_systems", "orange_systems", "yellow_systems",
		"green_systems", "assessment_score", "assessment_date"},
	flows.PreCallPrep: {"email", "name", "meeting_time"},
}

// response renders a deployment as Prefect's DeploymentResponse.
func (d *deployment) response(created time.Time) prefect.Deployment {
	pool, queue := "perfect", "default"
	desc := "Runs on perfect's embedded engine."
	schema := parameterSchema(d.params)
	return prefect.Deployment{
		ID: d.id, Created: &created, Updated: &created, Name: d.flow, Description: &desc,
		FlowID: d.flowID, Schedules: []any{}, JobVariables: map[string]any{},
		Parameters: map[string]any{}, Tags: append([]string{}, d.tags...), Labels: map[string]any{},
		WorkQueueName: &queue, WorkPoolName: &pool, Status: "READY",
		ParameterOpenAPISchema: schema, EnforceParameterSchema: true, PullSteps: []any{},
	}
}

// parameterSchema is a minimal OpenAPI schema naming the parameters.
func parameterSchema(names []string) json.RawMessage {
	props := map[string]any{}
	for i, n := range names {
		props[n] = map[string]any{"title": n, "position": i}
	}
	b, _ := json.Marshal(map[string]any{
		"title": "Parameters", "type": "object", "properties": props,
	})
	return b
}
