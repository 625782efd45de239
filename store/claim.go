package store

import (
	"bytes"

	"time"

	bolt "go.etcd.io/bbolt"
)

// Claim is one unit of work for a dispatcher: a single step, or the steps
// of one batch.
type Claim struct {
	BatchID string
	Steps   []Step
}

// ClaimOptions shape ClaimNext.
type ClaimOptions struct {
	// Max is the number of claims wanted (free workers).
	Max int
	// BatchMin is how many steps must be due at once before they are sent
	// in batches; zero disables batching.
	BatchMin int
	// BatchMax is the largest batch.
	BatchMax int
	// NewID names a new batch.
	NewID func() string
}

// ClaimNext moves due steps to sending and returns them as claims, in due
// order. Steps that already belong to a batch are claimed with the rest of
// their batch, so a re-sent batch has the same members. When at least
// BatchMin fresh steps are due, they are grouped into new batches.
func (db *DB) ClaimNext(now time.Time, o ClaimOptions) ([]Claim, error) {
	if o.Max <= 0 {
		return nil, nil
	}
	batching := o.BatchMin > 0 && o.BatchMax > 1 && o.NewID != nil
	scan := o.Max
	if batching {
		scan = o.Max * o.BatchMax
	}
	var claims []Claim
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		claims = claims[:0]
		due, err := dueSteps(tx, now, scan)
		if err != nil {
			return err
		}
		groups := map[string]int{}
		var fresh []*Step
		for _, s := range due {
			switch {
			case s.BatchID == "" && s.Attempts == 0:
				fresh = append(fresh, s)
			case s.BatchID == "":
				// Attempted alone before (rescued or retried): that send may
				// have landed under the step's own key, so it goes again
				// alone, under that key, never inside a new batch.
				claims = append(claims, Claim{Steps: []Step{*s}})
			case groups[s.BatchID] > 0:
				c := &claims[groups[s.BatchID]-1]
				c.Steps = append(c.Steps, *s)
			default:
				claims = append(claims, Claim{BatchID: s.BatchID, Steps: []Step{*s}})
				groups[s.BatchID] = len(claims)
			}
		}
		if batching && len(fresh) >= o.BatchMin {
			for i := 0; i < len(fresh); i += o.BatchMax {
				chunk := fresh[i:min(i+o.BatchMax, len(fresh))]
				c := Claim{BatchID: o.NewID()}
				for _, s := range chunk {
					st := *s
					st.BatchID = c.BatchID
					c.Steps = append(c.Steps, st)
				}
				claims = append(claims, c)
			}
		} else {
			for _, s := range fresh {
				claims = append(claims, Claim{Steps: []Step{*s}})
			}
		}
		if len(claims) > o.Max {
			claims = claims[:o.Max]
		}
		for ci := range claims {
			for si := range claims[ci].Steps {
				if err := markSending(tx, &claims[ci].Steps[si], now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return claims, err
}

func dueSteps(tx *bolt.Tx, now time.Time, limit int) ([]*Step, error) {
	var out []*Step
	end := timeKey(now, "\xff")
	c := tx.Bucket(bucketDue).Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) <= 0 && len(out) < limit; k, _ = c.Next() {
		s, err := loadStep(tx, string(k[8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// markSending claims s (already changed by the caller, e.g. its BatchID)
// against the stored version.
func markSending(tx *bolt.Tx, s *Step, now time.Time) error {
	old, err := loadStep(tx, s.ID)
	if err != nil {
		return err
	}
	t := now
	s.Status, s.ClaimedAt, s.UpdatedAt = StatusSending, &t, now
	s.Attempts = old.Attempts + 1
	return putStep(tx, old, s)
}

// UpdateMany applies fn to several steps in one transaction.
func (db *DB) UpdateMany(ids []string, fn func(s *Step) error, outbox ...OutboxItem) ([]Step, error) {
	var out []Step
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		for _, id := range ids {
			old, err := loadStep(tx, id)
			if err != nil {
				return err
			}
			s := *old
			s.History = append([]Event(nil), old.History...)
			if err := fn(&s); err != nil {
				return err
			}
			if err := putStep(tx, old, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return putOutbox(tx, outbox)
	})
	return out, full(err)
}
