package prefect

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"perfect/flows"
)

// Backend names of FLOW_BACKENDS.
const (
	BackendEmbedded = "embedded"
	BackendPrefect  = "prefect"
)

// handlerDeployments are the flows that exist as Prefect deployments of
// their own in the legacy system (legacy §11.1), named <flow>/<flow>.
var handlerDeployments = []string{
	flows.ChristmasSignup, flows.NoShowRecovery, flows.PostCallMaybe, flows.Onboarding,
}

// SendEmailDeployment is the full name of the legacy sender deployment.
const SendEmailDeployment = flows.ChristmasSendMail + "/" + flows.ChristmasSendMail

// Mode says who runs a flow.
type Mode int

const (
	// Embedded: perfect plans and sends every email.
	Embedded Mode = iota
	// Handler: the whole start is handed to the flow's own Prefect
	// deployment (<flow>/<flow>) as one flow run with the legacy parameters;
	// Prefect does the rest.
	Handler
	// SendEmail: perfect plans the run and each email becomes a SCHEDULED
	// flow run of christmas-send-email/christmas-send-email.
	SendEmail
)

// String names the mode for logs and reports.
func (m Mode) String() string {
	switch m {
	case Handler:
		return "prefect handler"
	case SendEmail:
		return "prefect send-email"
	}
	return BackendEmbedded
}

// Routes is the parsed FLOW_BACKENDS: flow name to backend. A flow not
// listed is embedded.
type Routes map[string]string

// ParseBackends reads FLOW_BACKENDS, a comma-separated list of
// flow=backend pairs such as
// "christmas-send-email=prefect,christmas-noshow-recovery-handler=prefect".
//
// A handler flow set to prefect (christmas-signup-handler,
// christmas-noshow-recovery-handler, christmas-postcall-maybe-handler,
// christmas-onboarding-handler) is handed to its own deployment as a whole.
// christmas-send-email=prefect makes Prefect's sender deliver the emails of
// the flows perfect still plans, where the legacy sender can render them
// (see SendsThroughPrefect). Flows with no legacy deployment cannot be
// routed to prefect.
func ParseBackends(s string) (Routes, error) {
	r := Routes{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		flow, backend, ok := strings.Cut(part, "=")
		flow, backend = strings.TrimSpace(flow), strings.ToLower(strings.TrimSpace(backend))
		if !ok || flow == "" {
			return nil, fmt.Errorf("FLOW_BACKENDS: %q is not flow=backend", part)
		}
		if err := checkRoute(flow, backend); err != nil {
			return nil, fmt.Errorf("FLOW_BACKENDS: %w", err)
		}
		if prev, dup := r[flow]; dup && prev != backend {
			return nil, fmt.Errorf("FLOW_BACKENDS: %s is set twice (%s and %s)", flow, prev, backend)
		}
		r[flow] = backend
	}
	return r, nil
}

func checkRoute(flow, backend string) error {
	_, known := flows.ByName(flow)
	if !known && flow != flows.ChristmasSendMail {
		return fmt.Errorf("unknown flow %q (known: %s)", flow, strings.Join(knownFlows(), ", "))
	}
	switch backend {
	case BackendEmbedded:
		return nil
	case BackendPrefect:
	default:
		return fmt.Errorf("unknown backend %q for %s (use embedded or prefect)", backend, flow)
	}
	if flow != flows.ChristmasSendMail && !slices.Contains(handlerDeployments, flow) {
		return fmt.Errorf("%s has no Prefect deployment in the legacy system; "+
			"only %s and %s can be routed to prefect", flow,
			strings.Join(handlerDeployments, ", "), flows.ChristmasSendMail)
	}
	return nil
}

func knownFlows() []string {
	names := []string{flows.ChristmasSendMail}
	for _, f := range flows.All() {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// Mode returns who runs a flow.
func (r Routes) Mode(flow string) Mode {
	switch {
	case r[flow] == BackendPrefect:
		return Handler
	case r[flows.ChristmasSendMail] == BackendPrefect && SendsThroughPrefect(flow):
		return SendEmail
	}
	return Embedded
}

// Any reports whether any flow uses Prefect.
func (r Routes) Any() bool {
	for _, b := range r {
		if b == BackendPrefect {
			return true
		}
	}
	return false
}

// Deployments returns the full names of the deployments the routes use,
// sorted.
func (r Routes) Deployments() []string {
	var out []string
	for flow, b := range r {
		if b != BackendPrefect {
			continue
		}
		out = append(out, flow+"/"+flow)
	}
	sort.Strings(out)
	return out
}

// String lists the routes for /health and logs, e.g.
// "christmas-send-email=prefect"; "off" when no flow uses Prefect.
func (r Routes) String() string {
	var parts []string
	for flow, b := range r {
		if b == BackendPrefect {
			parts = append(parts, flow+"="+b)
		}
	}
	if len(parts) == 0 {
		return "off"
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// SendsThroughPrefect reports whether the legacy sender flow can deliver
// the emails of a flow. It picks the template as "5-Day E{n}" from the
// email number and ignores anything else (legacy §2.3), so only flows whose
// every email uses that template qualify: today the Christmas 5-day
// sequence. Handing it any other flow's emails would send the wrong text.
func SendsThroughPrefect(flow string) bool {
	f, ok := flows.ByName(flow)
	if !ok || len(f.Steps) == 0 {
		return false
	}
	for _, s := range f.Steps {
		if len(s.BySegment) > 0 || s.Number < 1 || s.Number > 5 || s.Template != legacyTemplate(s.Number) {
			return false
		}
	}
	return true
}

// legacyTemplate is the template the legacy sender uses for an email number.
func legacyTemplate(n int) string { return fmt.Sprintf("5-Day E%d", n) }
