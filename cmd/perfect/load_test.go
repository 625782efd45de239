package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shape is one kind of webhook the load generator posts: a fixture body
// with a unique contact, the flow it starts and how many emails that flow
// plans for it.
type shape struct {
	name  string
	path  string
	flow  string
	steps int
	// retry is true when the service dedupes the webhook, so a sender
	// that got no answer may post it again.
	retry bool
	body  func(email string, n int, meeting time.Time) []byte
}

// webhook is one unique delivery and every answer it got.
type webhook struct {
	shape   *shape
	email   string
	body    []byte
	answers []answer
}

// answer is one POST's outcome; status 0 means no answer arrived.
type answer struct {
	status    int
	runID     string
	duplicate bool
	steps     int
	err       string
}

// accepted returns the 200 answers.
func (w *webhook) accepted() []answer {
	var out []answer
	for _, a := range w.answers {
		if a.status == http.StatusOK {
			out = append(out, a)
		}
	}
	return out
}

// loadGen posts webhooks while the server is up, each with a new address,
// and posts again the dedupable ones that got no answer, as a sender would.
type loadGen struct {
	shapes []*shape
	clock  func() time.Time
	client *http.Client
	pause  time.Duration

	mu      sync.Mutex
	url     string
	upCh    chan struct{} // closed while the server is up
	all     []*webhook
	retries []*webhook
	n       int

	inflight atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

func newLoadGen(shapes []*shape, clock func() time.Time, pause time.Duration) *loadGen {
	return &loadGen{
		shapes: shapes, clock: clock, pause: pause,
		client: &http.Client{Timeout: 10 * time.Second},
		upCh:   make(chan struct{}), stop: make(chan struct{}),
	}
}

// Start runs workers posting concurrently.
func (g *loadGen) Start(workers int) {
	for range workers {
		g.wg.Add(1)
		go g.work()
	}
}

// Stop ends the workers and waits for them.
func (g *loadGen) Stop() {
	close(g.stop)
	g.wg.Wait()
}

// SetUp lets the workers post to url.
func (g *loadGen) SetUp(url string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.url = url
	close(g.upCh)
}

// SetDown holds new posts until the next SetUp; posts in flight go on.
func (g *loadGen) SetDown() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.url = ""
	g.upCh = make(chan struct{})
}

// InFlight reports how many posts are waiting for an answer.
func (g *loadGen) InFlight() int64 { return g.inflight.Load() }

// Webhooks returns every delivery made so far.
func (g *loadGen) Webhooks() []*webhook {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*webhook(nil), g.all...)
}

func (g *loadGen) work() {
	defer g.wg.Done()
	for {
		url, ok := g.waitUp()
		if !ok {
			return
		}
		w := g.next()
		g.record(w, g.post(url, w))
		select {
		case <-g.stop:
			return
		case <-time.After(g.pause):
		}
	}
}

func (g *loadGen) waitUp() (string, bool) {
	for {
		g.mu.Lock()
		url, ch := g.url, g.upCh
		g.mu.Unlock()
		if url != "" {
			return url, true
		}
		select {
		case <-ch:
		case <-g.stop:
			return "", false
		}
	}
}

// next returns a delivery to retry, or a new one.
func (g *loadGen) next() *webhook {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.retries) > 0 {
		w := g.retries[0]
		g.retries = g.retries[1:]
		return w
	}
	g.n++
	s := g.shapes[g.n%len(g.shapes)]
	email := fmt.Sprintf("load-%05d-%s@example.com", g.n, s.name)
	w := &webhook{shape: s, email: email, body: s.body(email, g.n, g.clock().Add(20*time.Minute))}
	g.all = append(g.all, w)
	return w
}

// maxPosts bounds how often one delivery is posted.
const maxPosts = 6

func (g *loadGen) record(w *webhook, a answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	w.answers = append(w.answers, a)
	if a.status != http.StatusOK && w.shape.retry && len(w.answers) < maxPosts {
		g.retries = append(g.retries, w)
	}
}

func (g *loadGen) post(url string, w *webhook) answer {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	resp, err := g.client.Post(url+w.shape.path, "application/json", bytes.NewReader(w.body))
	if err != nil {
		return answer{err: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: "read answer: " + err.Error()}
	}
	a := answer{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		a.err = string(data)
		return a
	}
	var body struct {
		RunID     string `json:"run_id"`
		Duplicate bool   `json:"duplicate"`
		Steps     int    `json:"steps_planned"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return answer{err: "decode answer: " + err.Error()}
	}
	a.runID, a.duplicate, a.steps = body.RunID, body.Duplicate, body.Steps
	return a
}

// jsonFile reads a JSON object from the repository's testdata.
func jsonFile(t *testing.T, parts ...string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// clone deep-copies a decoded JSON object.
func clone(v map[string]any) map[string]any {
	data, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// loadShapes builds the eight webhook shapes from the legacy and provider
// fixtures, each changed only in its contact, ids and meeting time.
func loadShapes(t *testing.T) []*shape {
	t.Helper()
	entry := func(file, name string) map[string]any {
		v, ok := jsonFile(t, "legacy", file)[name].(map[string]any)
		if !ok {
			t.Fatalf("%s has no %s", file, name)
		}
		return v
	}
	christmas := entry("test_customer_data.json", "lead_nurture_critical")
	delete(christmas, "expected_segment")
	urgent := entry("test_customer_data.json", "lead_nurture_urgent")
	noshow := entry("calendly_noshow_payload.json", "valid_payload")
	postcall := entry("crm_postcall_payload.json", "valid_payload")
	onboarding := entry("docusign_completion_payload.json", "valid_payload")
	calcom := jsonFile(t, "providers", "calcom-BOOKING_CREATED-1.json")
	invitee := jsonFile(t, "providers", "calendly-invitee.created-1.json")
	inviteeNoShow := jsonFile(t, "providers", "calendly-invitee_no_show-1.json")

	legacy := func(base map[string]any) func(string, int, time.Time) []byte {
		return func(email string, n int, _ time.Time) []byte {
			v := clone(base)
			v["email"] = email
			if _, ok := v["calendly_event_uri"]; ok {
				v["calendly_event_uri"] = fmt.Sprintf("https://calendly.com/events/LOAD-%05d", n)
			}
			return mustJSON(v)
		}
	}
	return []*shape{
		{name: "christmas", path: "/webhook/christmas-signup", flow: "christmas-signup-handler", steps: 4,
			retry: true, body: legacy(christmas)},
		{name: "noshow", path: "/webhook/calendly-noshow", flow: "christmas-noshow-recovery-handler", steps: 3,
			retry: true, body: legacy(noshow)},
		{name: "postcall", path: "/webhook/postcall-maybe", flow: "christmas-postcall-maybe-handler", steps: 3,
			retry: true, body: legacy(postcall)},
		{name: "onboarding", path: "/webhook/onboarding-start", flow: "christmas-onboarding-handler", steps: 3,
			retry: true, body: legacy(onboarding)},
		{name: "calcom", path: "/webhook/calcom-booking", flow: "christmas-precall-prep", steps: 3, retry: true,
			body: func(email string, n int, meeting time.Time) []byte {
				v := clone(calcom)
				p := v["payload"].(map[string]any)
				first := p["attendees"].([]any)[0].(map[string]any)
				first["email"], first["name"] = email, "Load Booker"
				p["attendees"] = []any{first}
				p["uid"] = fmt.Sprintf("load-booking-%05d", n)
				p["startTime"] = meeting.UTC().Format(time.RFC3339)
				return mustJSON(v)
			}},
		{name: "bxsignup", path: "/webhook/signup", flow: "signup-handler", steps: 0,
			body: func(email string, _ int, _ time.Time) []byte {
				return mustJSON(map[string]any{"email": email, "name": "Load Signup", "first_name": "Load",
					"business_name": "Load Salon", "signup_source": "web_form"})
			}},
		{name: "bxassess", path: "/webhook/assessment", flow: "assessment-handler", steps: 5, retry: true,
			body: func(email string, _ int, _ time.Time) []byte {
				return mustJSON(map[string]any{"email": email, "red_systems": urgent["red_systems"],
					"orange_systems": urgent["orange_systems"], "yellow_systems": urgent["yellow_systems"],
					"green_systems": urgent["green_systems"], "assessment_score": urgent["assessment_score"]})
			}},
		{name: "calendly", path: "/webhook/calendly", flow: "christmas-precall-prep", steps: 3, retry: true,
			body: func(email string, n int, meeting time.Time) []byte {
				v := clone(invitee)
				p := v["payload"].(map[string]any)
				p["email"] = email
				p["uri"] = fmt.Sprintf("https://api.calendly.com/scheduled_events/LOAD/invitees/%05d", n)
				p["scheduled_event"].(map[string]any)["start_time"] = meeting.UTC().Format(time.RFC3339Nano)
				return mustJSON(v)
			}},
		{name: "calendlyns", path: "/webhook/calendly", flow: "christmas-noshow-recovery-handler", steps: 3,
			retry: true,
			body: func(email string, n int, _ time.Time) []byte {
				v := clone(inviteeNoShow)
				p := v["payload"].(map[string]any)
				p["email"] = email
				p["uri"] = fmt.Sprintf("https://api.calendly.com/scheduled_events/LOAD/invitees/ns-%05d", n)
				return mustJSON(v)
			}},
	}
}
