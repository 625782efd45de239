package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

func putOutbox(tx *bolt.Tx, items []OutboxItem) error {
	b, due := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxDue)
	for _, it := range items {
		if it.NextAt.IsZero() {
			it.NextAt = it.CreatedAt
		}
		if err := putJSON(b, []byte(it.ID), it); err != nil {
			return err
		}
		if err := due.Put(timeKey(it.NextAt, it.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// AddOutbox stores outbox items on their own.
func (db *DB) AddOutbox(items ...OutboxItem) error {
	return db.bolt.Update(func(tx *bolt.Tx) error { return putOutbox(tx, items) })
}

// DueOutbox returns up to limit pending items whose time has come, oldest first.
func (db *DB) DueOutbox(now time.Time, limit int) ([]OutboxItem, error) {
	var out []OutboxItem
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		end := timeKey(now, "\xff")
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) <= 0 && len(out) < limit; k, _ = c.Next() {
			var it OutboxItem
			if err := getJSON(b, k[8:], &it); err != nil {
				return fmt.Errorf("outbox %s: %w", k[8:], err)
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// NextOutbox returns when the earliest pending item is due.
func (db *DB) NextOutbox() (time.Time, bool) {
	var t time.Time
	var ok bool
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketOutboxDue).Cursor().First(); k != nil {
			t, ok = keyTime(k), true
		}
		return nil
	})
	return t, ok
}

func (db *DB) changeOutbox(id string, fn func(tx *bolt.Tx, it *OutboxItem) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var it OutboxItem
		if err := getJSON(b, []byte(id), &it); err != nil {
			return fmt.Errorf("outbox %s: %w", id, err)
		}
		if !it.Parked {
			if err := tx.Bucket(bucketOutboxDue).Delete(timeKey(it.NextAt, it.ID)); err != nil {
				return err
			}
		}
		return fn(tx, &it)
	})
}

// DoneOutbox removes an item that was applied.
func (db *DB) DoneOutbox(id string) error {
	return db.changeOutbox(id, func(tx *bolt.Tx, it *OutboxItem) error {
		return tx.Bucket(bucketOutbox).Delete([]byte(id))
	})
}

// RetryOutbox records a failed attempt and when to try again.
func (db *DB) RetryOutbox(id string, next time.Time, lastErr string) error {
	return db.changeOutbox(id, func(tx *bolt.Tx, it *OutboxItem) error {
		it.Attempts++
		it.NextAt, it.LastError, it.Parked = next, lastErr, false
		return putOutbox(tx, []OutboxItem{*it})
	})
}

// ParkOutbox keeps an item that failed permanently, out of the due index.
func (db *DB) ParkOutbox(id string, lastErr string) error {
	return db.changeOutbox(id, func(tx *bolt.Tx, it *OutboxItem) error {
		it.Attempts++
		it.LastError, it.Parked = lastErr, true
		return putJSON(tx.Bucket(bucketOutbox), []byte(id), it)
	})
}

// ListOutbox returns up to limit items, pending and parked, oldest first.
func (db *DB) ListOutbox(limit int) ([]OutboxItem, error) {
	var out []OutboxItem
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var it OutboxItem
			if err := jsonUnmarshal(v, &it); err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}
