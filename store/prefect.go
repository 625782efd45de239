package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The Prefect adapter keeps its records in one bucket of its own, created
// on first write, with three nested buckets.
var (
	bucketPrefect         = []byte("prefect")
	bucketPrefectAPIRuns  = []byte("api_runs") // run id -> PrefectAPIRun
	bucketPrefectAPIKeys  = []byte("api_keys") // deployment id + 0 + idempotency key -> run id
	bucketPrefectHandoffs = []byte("handoffs") // run id + 0 + key -> PrefectHandoff
)

// PrefectAPIRun is what perfect's Prefect-compatible API remembers of a run
// it created: what the caller sent that the run itself does not hold.
type PrefectAPIRun struct {
	RunID          string          `json:"run_id"`
	DeploymentID   string          `json:"deployment_id"`
	Name           string          `json:"name"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Tags           []string        `json:"tags,omitempty"`
	Parameters     json.RawMessage `json:"parameters,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
}

// Handoff states: what became of one flow run perfect creates on Prefect.
const (
	HandoffPending   = "pending"   // queued in the outbox, not created yet
	HandoffRetrying  = "retrying"  // the last attempt failed; the outbox retries
	HandoffCreated   = "created"   // Prefect answered 201
	HandoffExisting  = "existing"  // Prefect answered 200: the key was known
	HandoffFailed    = "failed"    // refused for good; the outbox item is parked
	HandoffSkipped   = "skipped"   // the run was cancelled before creation
	HandoffCancelled = "cancelled" // cancelled on Prefect after creation
)

// PrefectHandoff is one flow run that perfect creates (or created) on a
// Prefect server for a run of its own.
type PrefectHandoff struct {
	RunID string `json:"run_id"`
	// Key is the idempotency key sent to Prefect: the step id for an email,
	// the run id for a whole handler flow.
	Key           string     `json:"key"`
	Deployment    string     `json:"deployment"`
	DeploymentID  string     `json:"deployment_id,omitempty"`
	FlowRunID     string     `json:"flow_run_id,omitempty"`
	EmailNumber   int        `json:"email_number,omitempty"`
	ScheduledTime *time.Time `json:"scheduled_time,omitempty"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// prefectBucket returns a nested bucket of the Prefect bucket, or nil when
// it does not exist yet (read-only transactions).
func prefectBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	top := tx.Bucket(bucketPrefect)
	if top == nil {
		return nil
	}
	return top.Bucket(name)
}

func createPrefectBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	top, err := tx.CreateBucketIfNotExists(bucketPrefect)
	if err != nil {
		return nil, err
	}
	return top.CreateBucketIfNotExists(name)
}

// PutPrefectAPIRun records a run created through the Prefect API and, when
// it has an idempotency key, indexes the key under its deployment.
func (db *DB) PutPrefectAPIRun(r PrefectAPIRun) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		runs, err := createPrefectBucket(tx, bucketPrefectAPIRuns)
		if err != nil {
			return err
		}
		if err := putJSON(runs, []byte(r.RunID), r); err != nil {
			return err
		}
		if r.IdempotencyKey == "" {
			return nil
		}
		keys, err := createPrefectBucket(tx, bucketPrefectAPIKeys)
		if err != nil {
			return err
		}
		return keys.Put(joinKey(r.DeploymentID, r.IdempotencyKey), []byte(r.RunID))
	})
}

// PutPrefectAPIKey indexes one more idempotency key of a deployment under
// an existing run, such as a key sent for a start that turned out to be a
// duplicate of that run.
func (db *DB) PutPrefectAPIKey(deploymentID, key, runID string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		keys, err := createPrefectBucket(tx, bucketPrefectAPIKeys)
		if err != nil {
			return err
		}
		return keys.Put(joinKey(deploymentID, key), []byte(runID))
	})
}

// PrefectAPIRun returns what the Prefect API recorded of a run, or
// ErrNotFound for a run it did not create.
func (db *DB) PrefectAPIRun(runID string) (PrefectAPIRun, error) {
	var r PrefectAPIRun
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := prefectBucket(tx, bucketPrefectAPIRuns)
		if b == nil {
			return ErrNotFound
		}
		return getJSON(b, []byte(runID), &r)
	})
	if err != nil {
		return PrefectAPIRun{}, fmt.Errorf("prefect api run %s: %w", runID, err)
	}
	return r, nil
}

// PrefectRunByKey returns the id of the run created for an idempotency key
// of a deployment, or ErrNotFound.
func (db *DB) PrefectRunByKey(deploymentID, key string) (string, error) {
	var id string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := prefectBucket(tx, bucketPrefectAPIKeys)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(joinKey(deploymentID, key))
		if v == nil {
			return ErrNotFound
		}
		id = string(v)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("prefect idempotency key %q: %w", key, err)
	}
	return id, nil
}

// PutPrefectHandoffs records handoffs; a later record for the same run
// and key replaces the earlier one.
func (db *DB) PutPrefectHandoffs(hs ...PrefectHandoff) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := createPrefectBucket(tx, bucketPrefectHandoffs)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if err := putJSON(b, joinKey(h.RunID, h.Key), h); err != nil {
				return err
			}
		}
		return nil
	})
}

// PrefectHandoffs returns the handoffs of a run, ordered by key.
func (db *DB) PrefectHandoffs(runID string) ([]PrefectHandoff, error) {
	var out []PrefectHandoff
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := prefectBucket(tx, bucketPrefectHandoffs)
		if b == nil {
			return nil
		}
		var err error
		forPrefix(b, runID, func(key string) bool {
			var h PrefectHandoff
			if err = getJSON(b, joinKey(runID, key), &h); err != nil {
				return false
			}
			out = append(out, h)
			return true
		})
		return err
	})
	return out, err
}

// ListPrefectHandoffs returns up to limit handoffs, newest run first.
func (db *DB) ListPrefectHandoffs(limit int) ([]PrefectHandoff, error) {
	var out []PrefectHandoff
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := prefectBucket(tx, bucketPrefectHandoffs)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var h PrefectHandoff
			if err := json.Unmarshal(v, &h); err != nil {
				return fmt.Errorf("handoff %q: %w", k, err)
			}
			out = append(out, h)
		}
		return nil
	})
	return out, err
}

// EachRun calls fn with every run in id order (creation order for the
// engine's ULIDs) until fn returns false. fn runs inside a read
// transaction: it must not call other DB methods.
func (db *DB) EachRun(fn func(Run) bool) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRuns).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var r Run
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("run %s: %w", k, err)
			}
			if !fn(r) {
				return nil
			}
		}
		return nil
	})
}
