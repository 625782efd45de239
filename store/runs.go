package store

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Key is the identity of an address: the whole address lower-cased, so case
// variants are one contact (decisions §3).
func Key(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Intake is everything one accepted webhook writes.
type Intake struct {
	Run    Run
	Steps  []Step
	Outbox []OutboxItem
}

// CreateRun stores a run, its steps and its outbox items in one transaction.
// When the run has a DedupeKey that belongs to a run that was not
// cancelled, nothing is written and the existing run is returned with
// duplicate set. Concurrent calls are grouped into one commit.
func (db *DB) CreateRun(in Intake) (run Run, duplicate bool, err error) {
	err = db.commits.run(db.bolt, func(tx *bolt.Tx) error {
		// The function may run again alone: reset what it reports.
		run, duplicate = in.Run, false
		if in.Run.DedupeKey != "" {
			existing, ok, err := liveRunByDedupe(tx, in.Run.DedupeKey)
			if err != nil {
				return err
			}
			if ok {
				run, duplicate = existing, true
				return nil
			}
		}
		return writeIntake(tx, in)
	})
	return run, duplicate, full(err)
}

func liveRunByDedupe(tx *bolt.Tx, key string) (Run, bool, error) {
	id := tx.Bucket(bucketDedupe).Get([]byte(key))
	if id == nil {
		return Run{}, false, nil
	}
	var r Run
	if err := getJSON(tx.Bucket(bucketRuns), id, &r); err != nil {
		return Run{}, false, fmt.Errorf("dedupe run %s: %w", id, err)
	}
	if r.CancelledAt != nil {
		return Run{}, false, nil
	}
	return r, true, nil
}

func writeIntake(tx *bolt.Tx, in Intake) error {
	r := in.Run
	if err := putJSON(appendBucket(tx, bucketRuns), []byte(r.ID), r); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRunsByEmail).Put(joinKey(Key(r.Email), r.ID), nil); err != nil {
		return err
	}
	if r.DedupeKey != "" {
		if err := tx.Bucket(bucketDedupe).Put([]byte(r.DedupeKey), []byte(r.ID)); err != nil {
			return err
		}
	}
	for i := range in.Steps {
		if err := putStep(tx, nil, &in.Steps[i]); err != nil {
			return err
		}
	}
	return putOutbox(tx, in.Outbox)
}

// GetRun returns one run.
func (db *DB) GetRun(id string) (Run, error) {
	var r Run
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketRuns), []byte(id), &r)
	})
	if err != nil {
		return Run{}, fmt.Errorf("run %s: %w", id, err)
	}
	return r, nil
}

// RunsByEmail returns every run of a contact, oldest first.
func (db *DB) RunsByEmail(email string) ([]Run, error) {
	var runs []Run
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		var err error
		forPrefix(tx.Bucket(bucketRunsByEmail), Key(email), func(id string) bool {
			var r Run
			if err = getJSON(b, []byte(id), &r); err != nil {
				return false
			}
			runs = append(runs, r)
			return true
		})
		return err
	})
	return runs, err
}

// StepsByRun returns the steps of a run in email order.
func (db *DB) StepsByRun(runID string) ([]Step, error) {
	var steps []Step
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSteps).Cursor()
		p := []byte(runID + "-e")
		for k, v := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, v = c.Next() {
			var s Step
			if err := jsonUnmarshal(v, &s); err != nil {
				return err
			}
			steps = append(steps, s)
		}
		return nil
	})
	return steps, err
}

// CancelRun cancels a run and every step of it that has not been sent. The
// run's dedupe key is released, so the same contact can start it again.
func (db *DB) CancelRun(runID, by, reason string, now time.Time) ([]Step, error) {
	var changed []Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var r Run
		if err := getJSON(tx.Bucket(bucketRuns), []byte(runID), &r); err != nil {
			return fmt.Errorf("run %s: %w", runID, err)
		}
		var err error
		changed, err = cancelRunTx(tx, &r, by, reason, now)
		return err
	})
	return changed, err
}

func cancelRunTx(tx *bolt.Tx, r *Run, by, reason string, now time.Time) ([]Step, error) {
	if r.CancelledAt == nil {
		t := now
		r.CancelledAt, r.CancelReason = &t, reason
		if err := putJSON(tx.Bucket(bucketRuns), []byte(r.ID), r); err != nil {
			return nil, err
		}
	}
	var changed []Step
	c := tx.Bucket(bucketSteps).Cursor()
	p := r.ID + "-e"
	var ids []string
	for k, _ := c.Seek([]byte(p)); k != nil && strings.HasPrefix(string(k), p); k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	for _, id := range ids {
		s, err := cancelStepTx(tx, id, by, reason, now)
		if err == nil {
			changed = append(changed, s)
		} else if !isConflict(err) {
			return nil, err
		}
	}
	return changed, nil
}
