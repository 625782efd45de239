package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Suppression records an address that must not receive marketing email.
type Suppression struct {
	Email  string    `json:"email"`
	Reason string    `json:"reason"` // unsubscribed, bounced, complained, admin
	Source string    `json:"source,omitempty"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
}

// Suppress adds an address to the suppression list and cancels every
// unsent, non-transactional step of it, in one transaction. It reports
// whether the address was new to the list.
func (db *DB) Suppress(s Suppression) (added bool, cancelled []Step, err error) {
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSuppressed)
		key := []byte(Key(s.Email))
		added = b.Get(key) == nil
		if added {
			if err := putJSON(b, key, s); err != nil {
				return err
			}
		}
		var ids []string
		forPrefix(tx.Bucket(bucketByEmail), Key(s.Email), func(id string) bool {
			ids = append(ids, id)
			return true
		})
		cancelled = cancelled[:0]
		for _, id := range ids {
			st, err := loadStep(tx, id)
			if err != nil {
				return err
			}
			if st.Transactional || st.Status.Final() || st.Status == StatusSending {
				continue
			}
			c, err := cancelStepTx(tx, id, s.By, s.Reason, s.At)
			if err != nil {
				return err
			}
			cancelled = append(cancelled, c)
		}
		return nil
	})
	return added, cancelled, err
}

// Unsuppress removes an address from the list. Cancelled steps stay
// cancelled; new webhooks plan emails again.
func (db *DB) Unsuppress(email string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSuppressed)
		if b.Get([]byte(Key(email))) == nil {
			return fmt.Errorf("suppression %s: %w", email, ErrNotFound)
		}
		return b.Delete([]byte(Key(email)))
	})
}

// IsSuppressed reports whether an address is on the list.
func (db *DB) IsSuppressed(email string) bool {
	var found bool
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketSuppressed).Get([]byte(Key(email))) != nil
		return nil
	})
	return found
}

// ListSuppressed returns up to limit entries in address order.
func (db *DB) ListSuppressed(limit int) ([]Suppression, error) {
	var out []Suppression
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSuppressed).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var s Suppression
			if err := jsonUnmarshal(v, &s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}
