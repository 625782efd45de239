package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"perfect/flows"
	"perfect/internal/engine"
	"perfect/internal/templates"
	"perfect/store"
)

// signupParams are a christmas signup's params after validation.
func signupParams(email string) map[string]any {
	return map[string]any{
		"email": email, "first_name": "Ada", "business_name": "Ada's Salon", "assessment_score": 42,
		"red_systems": 2, "orange_systems": 1, "yellow_systems": 1, "green_systems": 0,
		"gps_score": nil, "money_score": nil, "weakest_system_1": "GPS", "weakest_system_2": nil,
		"revenue_leak_total": nil, "segment": "CRITICAL",
	}
}

// benchEngine is an engine in outbox mode on a durable store in a temp dir;
// its scheduler is not started, so only planning runs.
func benchEngine(b *testing.B) (*engine.Engine, *store.DB) {
	b.Helper()
	db, err := store.Open(filepath.Join(b.TempDir(), "perfect.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	eng := engine.New(engine.Config{DB: db, Campaign: flows.DefaultCampaign(), Logger: slog.New(slog.DiscardHandler)})
	return eng, db
}

// BenchmarkStart plans a christmas signup (a run and four emails) and
// commits it with fsync on, as the webhook handler does: from one caller
// at a time, and from 64 at once, where group commit shares each fsync.
func BenchmarkStart(b *testing.B) {
	for _, g := range []int{1, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			eng, _ := benchEngine(b)
			var next atomic.Int64
			start := func() error {
				email := fmt.Sprintf("bench-%d@example.com", next.Add(1))
				res, err := eng.Start(context.Background(), engine.StartRequest{
					Flow: flows.ChristmasSignup, Email: email, Params: signupParams(email), Segment: "CRITICAL",
					DedupeKey: flows.ChristmasSignup + "|" + email, Source: "/webhook/christmas-signup",
				})
				if err == nil && (res.Duplicate || len(res.Steps) != 4) {
					err = fmt.Errorf("planned %d steps, duplicate %v", len(res.Steps), res.Duplicate)
				}
				return err
			}
			b.ReportAllocs()
			if g == 1 {
				for b.Loop() {
					if err := start(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := start(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPlan is the planning of each flow alone: due times and
// templates, without the store.
func BenchmarkPlan(b *testing.B) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, f := range flows.All() {
		b.Run(f.Name, func(b *testing.B) {
			anchor := now
			if f.Anchor == flows.BeforeMeeting {
				anchor = now.Add(96 * time.Hour)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = f.Plan(anchor, now, false, "CRITICAL")
			}
		})
	}
}

// BenchmarkRenderStep renders a claimed step as dispatch does: decode the
// run's params, fetch the embedded template, build the variables, fill the
// subject, HTML and text part.
func BenchmarkRenderStep(b *testing.B) {
	eng, db := benchEngine(b)
	res, err := eng.Start(context.Background(), engine.StartRequest{
		Flow: flows.ChristmasSignup, Email: "ada@example.com", Params: signupParams("ada@example.com"),
		Segment: "CRITICAL",
	})
	if err != nil {
		b.Fatal(err)
	}
	run, err := db.GetRun(res.RunID)
	if err != nil {
		b.Fatal(err)
	}
	r := &engine.Renderer{Templates: templates.Embedded(), Campaign: flows.DefaultCampaign(),
		From: "Sender <sender@example.com>",
		Unsubscribe: func(string) (string, map[string]string) {
			return "https://example.com/unsubscribe?t=x", map[string]string{"List-Unsubscribe": "<https://example.com/u>"}
		}}
	step := res.Steps[0]
	now := step.DueAt
	b.ReportAllocs()
	for b.Loop() {
		out, err := r.Render(context.Background(), run, step, now)
		if err != nil || out.Text == "" {
			b.Fatalf("render: %v", err)
		}
	}
}
