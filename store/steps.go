package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }

// GetStep returns one step.
func (db *DB) GetStep(id string) (Step, error) {
	var s *Step
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		s, err = loadStep(tx, id)
		return err
	})
	if err != nil {
		return Step{}, err
	}
	return *s, nil
}

// NextDue returns the due time of the earliest planned step.
func (db *DB) NextDue() (time.Time, bool) {
	var t time.Time
	var ok bool
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketDue).Cursor().First()
		if k != nil {
			t, ok = keyTime(k), true
		}
		return nil
	})
	return t, ok
}

// ClaimDue moves up to limit planned steps due at or before now to sending
// and returns them, earliest first.
func (db *DB) ClaimDue(now time.Time, limit int) ([]Step, error) {
	var claimed []Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		claimed = claimed[:0]
		end := timeKey(now, "\xff")
		var ids []string
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) <= 0 && len(ids) < limit; k, _ = c.Next() {
			ids = append(ids, string(k[8:]))
		}
		for _, id := range ids {
			old, err := loadStep(tx, id)
			if err != nil {
				return err
			}
			s := *old
			t := now
			s.Status, s.ClaimedAt, s.UpdatedAt = StatusSending, &t, now
			s.Attempts++
			if err := putStep(tx, old, &s); err != nil {
				return err
			}
			claimed = append(claimed, s)
		}
		return nil
	})
	return claimed, err
}

// Update applies fn to a step in one transaction, keeping indexes right.
// fn sees the stored step and changes it in place; returning an error
// aborts the change. Outbox items are stored in the same transaction.
func (db *DB) Update(id string, fn func(s *Step) error, outbox ...OutboxItem) (Step, error) {
	return db.UpdateTracked(id, func(s *Step) ([]OutboxItem, error) {
		return outbox, fn(s)
	})
}

// UpdateTracked is Update where fn also returns the outbox items that
// record the change, computed from the changed step; the step and its
// tracking are committed together or not at all.
func (db *DB) UpdateTracked(id string, fn func(s *Step) ([]OutboxItem, error)) (Step, error) {
	var out Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		old, err := loadStep(tx, id)
		if err != nil {
			return err
		}
		s := *old
		s.History = append([]Event(nil), old.History...)
		outbox, err := fn(&s)
		if err != nil {
			return err
		}
		if err := putStep(tx, old, &s); err != nil {
			return err
		}
		out = s
		return putOutbox(tx, outbox)
	})
	return out, full(err)
}

// RescueSending returns every step left in sending by a crash to planned,
// due at now, keeping its rendered body so the re-send carries the same
// idempotency key and content.
func (db *DB) RescueSending(now time.Time) ([]Step, error) {
	var rescued []Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		rescued = rescued[:0]
		var ids []string
		forPrefix(tx.Bucket(bucketByStatus), string(StatusSending), func(id string) bool {
			ids = append(ids, id)
			return true
		})
		for _, id := range ids {
			old, err := loadStep(tx, id)
			if err != nil {
				return err
			}
			s := *old
			s.Status, s.ClaimedAt, s.UpdatedAt = StatusPlanned, nil, now
			// Members of a batch get one due time, so they are claimed
			// together again and the batch is re-sent whole.
			if s.DueAt.After(now) || s.BatchID != "" {
				s.DueAt = now
			}
			s.History = append(append([]Event(nil), old.History...),
				Event{At: now, Action: "rescued", Reason: "was sending when the process stopped"})
			if err := putStep(tx, old, &s); err != nil {
				return err
			}
			rescued = append(rescued, s)
		}
		return nil
	})
	return rescued, err
}

// cancelStepTx cancels one step that has not reached a final state.
func cancelStepTx(tx *bolt.Tx, id, by, reason string, now time.Time) (Step, error) {
	old, err := loadStep(tx, id)
	if err != nil {
		return Step{}, err
	}
	if old.Status.Final() || old.Status == StatusSending {
		return Step{}, fmt.Errorf("step %s is %s: %w", id, old.Status, ErrConflict)
	}
	s := *old
	s.Status, s.CancelReason, s.UpdatedAt = StatusCancelled, reason, now
	s.History = append(append([]Event(nil), old.History...),
		Event{At: now, Action: "cancelled", By: by, Reason: reason})
	return s, putStep(tx, old, &s)
}

// CancelStep cancels one planned or failed step.
func (db *DB) CancelStep(id, by, reason string, now time.Time) (Step, error) {
	var s Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		s, err = cancelStepTx(tx, id, by, reason, now)
		return err
	})
	return s, err
}

// CancelMatching cancels every unsent step of the contact for which match
// returns true. Runs left with nothing to send keep their other steps.
func (db *DB) CancelMatching(email string, match func(Step) bool, by, reason string, now time.Time) ([]Step, error) {
	var changed []Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		var ids []string
		forPrefix(tx.Bucket(bucketByEmail), Key(email), func(id string) bool {
			ids = append(ids, id)
			return true
		})
		for _, id := range ids {
			s, err := loadStep(tx, id)
			if err != nil {
				return err
			}
			if s.Status.Final() || s.Status == StatusSending || !match(*s) {
				continue
			}
			c, err := cancelStepTx(tx, id, by, reason, now)
			if err != nil {
				return err
			}
			changed = append(changed, c)
		}
		return nil
	})
	return changed, err
}

// Filter selects steps for List. Zero fields match everything.
type Filter struct {
	Email  string
	Status Status
	Flow   string
	RunID  string
	// After is the id of the last step of the previous page.
	After string
	Limit int
}

func (f Filter) match(s *Step) bool {
	switch {
	case f.Status != "" && s.Status != f.Status:
		return false
	case f.Flow != "" && s.Flow != f.Flow:
		return false
	case f.RunID != "" && s.RunID != f.RunID:
		return false
	case f.Email != "" && Key(s.Email) != Key(f.Email):
		return false
	}
	return true
}

// List returns steps matching f, ordered by id (creation order), using the
// email or status index when the filter names one.
func (db *DB) List(f Filter) ([]Step, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var out []Step
	err := db.bolt.View(func(tx *bolt.Tx) error {
		steps := tx.Bucket(bucketSteps)
		visit := func(id string, raw []byte) (bool, error) {
			if f.After != "" && id <= f.After {
				return true, nil
			}
			if raw == nil {
				raw = steps.Get([]byte(id))
			}
			var s Step
			if err := json.Unmarshal(raw, &s); err != nil {
				return false, err
			}
			if f.match(&s) {
				out = append(out, s)
			}
			return len(out) < f.Limit, nil
		}
		var err error
		switch {
		case f.Email != "":
			forPrefix(tx.Bucket(bucketByEmail), Key(f.Email), func(id string) bool {
				var more bool
				more, err = visit(id, nil)
				return err == nil && more
			})
		case f.Status != "":
			forPrefix(tx.Bucket(bucketByStatus), string(f.Status), func(id string) bool {
				var more bool
				more, err = visit(id, nil)
				return err == nil && more
			})
		case f.RunID != "":
			c := steps.Cursor()
			p := f.RunID + "-e"
			for k, v := c.Seek([]byte(p)); k != nil && strings.HasPrefix(string(k), p); k, v = c.Next() {
				more, verr := visit(string(k), v)
				if err = verr; err != nil || !more {
					break
				}
			}
		default:
			c := steps.Cursor()
			k, v := c.First()
			if f.After != "" {
				k, v = c.Seek([]byte(f.After))
			}
			for ; k != nil; k, v = c.Next() {
				more, verr := visit(string(k), v)
				if err = verr; err != nil || !more {
					break
				}
			}
		}
		return err
	})
	return out, err
}

// Due returns the first limit planned steps in due order, for display.
func (db *DB) Due(limit int) ([]Step, error) {
	var out []Step
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			s, err := loadStep(tx, string(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, *s)
		}
		return nil
	})
	return out, err
}

// Stats are the counters /health and the admin overview show.
type Stats struct {
	ByStatus map[Status]int            `json:"by_status"`
	ByFlow   map[string]map[Status]int `json:"by_flow"`
	// NextDue is the due time of the earliest planned step.
	NextDue *time.Time `json:"next_due,omitempty"`
	// DueNow counts planned steps whose time has come.
	DueNow        int  `json:"due_now"`
	DueNowCapped  bool `json:"due_now_capped,omitempty"`
	OutboxPending int  `json:"outbox_pending"`
	OutboxParked  int  `json:"outbox_parked"`
	Suppressed    int  `json:"suppressed"`
}

// dueNowCap bounds the count of overdue steps /health reports, so a large
// backlog does not make every health probe walk the whole index.
const dueNowCap = 10000

// Stats reads the counters in one transaction.
func (db *DB) Stats(now time.Time) (Stats, error) {
	st := Stats{ByStatus: map[Status]int{}, ByFlow: map[string]map[Status]int{}}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			n := int(binary.BigEndian.Uint64(v))
			key := string(k)
			switch {
			case n == 0:
			case strings.HasPrefix(key, "s/"):
				st.ByStatus[Status(key[2:])] = n
			case strings.HasPrefix(key, "f/"):
				i := strings.LastIndexByte(key, '/')
				flow := key[2:i]
				if st.ByFlow[flow] == nil {
					st.ByFlow[flow] = map[Status]int{}
				}
				st.ByFlow[flow][Status(key[i+1:])] = n
			case strings.HasPrefix(key, "o/"):
			}
			return nil
		})
		if err != nil {
			return err
		}
		c := tx.Bucket(bucketDue).Cursor()
		if k, _ := c.First(); k != nil {
			t := keyTime(k)
			st.NextDue = &t
		}
		end := timeKey(now, "\xff")
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) <= 0; k, _ = c.Next() {
			st.DueNow++
			if st.DueNow >= dueNowCap {
				st.DueNowCapped = true
				break
			}
		}
		st.OutboxPending = tx.Bucket(bucketOutboxDue).Stats().KeyN
		st.OutboxParked = tx.Bucket(bucketOutbox).Stats().KeyN - st.OutboxPending
		st.Suppressed = tx.Bucket(bucketSuppressed).Stats().KeyN
		return nil
	})
	return st, err
}

// PurgeFinished deletes up to limit steps that reached a final status
// (sent, outbox, cancelled, expired) before the cutoff, with their index
// entries. Runs are kept: they are small and hold the dedupe keys.
func (db *DB) PurgeFinished(before time.Time, limit int) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		n = 0
		for _, st := range []Status{StatusSent, StatusOutbox, StatusCancelled, StatusExpired} {
			var ids []string
			forPrefix(tx.Bucket(bucketByStatus), string(st), func(id string) bool {
				ids = append(ids, id)
				return len(ids) < 4*limit
			})
			for _, id := range ids {
				if n >= limit {
					return nil
				}
				s, err := loadStep(tx, id)
				if err != nil {
					return err
				}
				if !s.UpdatedAt.Before(before) {
					continue
				}
				if err := unindexStep(tx, s); err != nil {
					return err
				}
				if err := tx.Bucket(bucketByEmail).Delete(joinKey(Key(s.Email), s.ID)); err != nil {
					return err
				}
				if err := tx.Bucket(bucketSteps).Delete([]byte(s.ID)); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}
