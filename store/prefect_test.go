package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"perfect/store"
)

func TestDB_PrefectAPIRun(t *testing.T) {
	db := mustOpen(t)
	if _, err := db.PrefectAPIRun("R1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before any write: %v, want ErrNotFound", err)
	}
	r := store.PrefectAPIRun{RunID: "R1", DeploymentID: "dep-1", Name: "christmas-signup-1",
		IdempotencyKey: "k1", Parameters: []byte(`{"email":"a@example.com"}`), CreatedAt: t0}
	if err := db.PutPrefectAPIRun(r); err != nil {
		t.Fatal(err)
	}
	got, err := db.PrefectAPIRun("R1")
	if err != nil || got.Name != r.Name || string(got.Parameters) != string(r.Parameters) {
		t.Fatalf("got %+v, %v", got, err)
	}
	id, err := db.PrefectRunByKey("dep-1", "k1")
	if err != nil || id != "R1" {
		t.Fatalf("by key = %q, %v", id, err)
	}
	if _, err := db.PrefectRunByKey("dep-2", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key of another deployment: %v, want ErrNotFound", err)
	}
}

func TestDB_PrefectHandoffs(t *testing.T) {
	db := mustOpen(t)
	due := t0.Add(24 * time.Hour)
	err := db.PutPrefectHandoffs(
		store.PrefectHandoff{RunID: "R1", Key: "R1-e2", State: store.HandoffPending, ScheduledTime: &due},
		store.PrefectHandoff{RunID: "R1", Key: "R1-e3", State: store.HandoffPending},
		store.PrefectHandoff{RunID: "R10", Key: "R10", State: store.HandoffPending},
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutPrefectHandoffs(store.PrefectHandoff{RunID: "R1", Key: "R1-e2",
		State: store.HandoffCreated, FlowRunID: "fr-1"}); err != nil {
		t.Fatal(err)
	}
	hs, err := db.PrefectHandoffs("R1")
	if err != nil || len(hs) != 2 {
		t.Fatalf("handoffs of R1 = %+v, %v; want 2 (not R10's)", hs, err)
	}
	if hs[0].Key != "R1-e2" || hs[0].State != store.HandoffCreated || hs[0].FlowRunID != "fr-1" {
		t.Fatalf("first handoff = %+v, want the replaced record", hs[0])
	}
	all, err := db.ListPrefectHandoffs(10)
	if err != nil || len(all) != 3 || all[0].RunID != "R10" {
		t.Fatalf("list = %+v, %v; want 3, newest run first", all, err)
	}
}

func TestDB_EachRun(t *testing.T) {
	db := mustOpen(t)
	for _, id := range []string{"R2", "R1", "R3"} {
		mustCreate(t, db, intake(id, id+"@example.com", "", time.Hour))
	}
	var seen []string
	err := db.EachRun(func(r store.Run) bool {
		seen = append(seen, r.ID)
		return len(seen) < 2
	})
	if err != nil || len(seen) != 2 || seen[0] != "R1" || seen[1] != "R2" {
		t.Fatalf("seen = %v, %v; want [R1 R2] and a stop", seen, err)
	}
}

func TestDB_Prefect_ReadOnlyBeforeFirstWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perfect.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if hs, err := ro.ListPrefectHandoffs(10); err != nil || len(hs) != 0 {
		t.Fatalf("list on a file without the bucket = %v, %v", hs, err)
	}
	if _, err := ro.PrefectRunByKey("d", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("by key = %v, want ErrNotFound", err)
	}
}
