// Package store keeps perfect's durable state in one bbolt file: runs, the
// steps (planned emails) of each run, the indexes that find them without a
// full scan, and the outbox of tracking writes.
//
// Every method runs in its own transaction. No method calls out to the
// network: callers claim work in one transaction, do the I/O, and record the
// result in another.
package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Bucket names. Index buckets hold empty values; their keys carry the data.
var (
	bucketRuns        = []byte("runs")          // run id -> Run
	bucketSteps       = []byte("steps")         // step id -> Step
	bucketDue         = []byte("due")           // due time (8 bytes) + step id, planned steps only
	bucketByEmail     = []byte("by_email")      // email key + 0 + step id
	bucketByStatus    = []byte("by_status")     // status + 0 + step id
	bucketRunsByEmail = []byte("runs_by_email") // email key + 0 + run id
	bucketDedupe      = []byte("dedupe")        // dedupe key -> run id
	bucketCounts      = []byte("counts")        // "s/<status>" or "f/<flow>/<status>" -> uint64
	bucketOutbox      = []byte("outbox")        // item id -> OutboxItem
	bucketOutboxDue   = []byte("outbox_due")    // next time + item id, pending items only
	bucketSuppressed  = []byte("suppressed")    // email key -> Suppression
	bucketMeta        = []byte("meta")
)

var allBuckets = [][]byte{
	bucketRuns, bucketSteps, bucketDue, bucketByEmail, bucketByStatus,
	bucketRunsByEmail, bucketDedupe, bucketCounts, bucketOutbox, bucketOutboxDue,
	bucketSuppressed, bucketMeta,
}

// Errors returned by the store.
var (
	// ErrNotFound is returned when a run, step or outbox item does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a change does not fit the step's state,
	// such as cancelling a step that was already sent.
	ErrConflict = errors.New("conflict")
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("data file is locked by another process")
	// ErrFull is returned when the file cannot grow: its size cap was
	// reached or the disk is full.
	ErrFull = errors.New("data file cannot grow (disk full or size cap reached)")
	// ErrDamaged is returned by Open for a file that is shorter than its
	// header says or, with Options.Verify, fails bbolt's consistency check.
	ErrDamaged = errors.New("data file is damaged")
)

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock; zero means 5 seconds.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock for inspection.
	ReadOnly bool
	// NoSync skips fsync on commit. Only for benchmarks that measure it.
	NoSync bool
	// MaxSize caps the file; a commit that would grow it past fails with
	// ErrFull, as on a full disk.
	MaxSize int64
	// Verify runs bbolt's consistency check on an existing file before
	// using it; a damaged file fails Open with ErrDamaged.
	Verify bool
}

// DB is the open data file.
type DB struct {
	bolt    *bolt.DB
	path    string
	commits committer
}

// Open opens or creates the data file at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	if err := probe(path, opts); err != nil {
		return nil, err
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.Timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		MaxSize:      int(opts.MaxSize),
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, opts.Timeout)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	if opts.ReadOnly {
		return db, nil
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("init buckets: %w", err)
	}
	return db, nil
}

// probe looks at an existing file read-only before it is used: bbolt maps
// the file, and pages its header counts but the file lacks (a truncated
// copy) would kill the process with SIGBUS on first access. With
// opts.Verify it also runs the consistency check.
func probe(path string, opts Options) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		return nil // a new file
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: opts.Timeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, opts.Timeout)
	case err != nil:
		return fmt.Errorf("open %s: %w: %v", path, ErrDamaged, err)
	}
	defer b.Close()
	return b.View(func(tx *bolt.Tx) error {
		if size := tx.Size(); size > fi.Size() {
			return fmt.Errorf("open %s: %w: truncated, the file has %d bytes and its header counts %d",
				path, ErrDamaged, fi.Size(), size)
		}
		if !opts.Verify {
			return nil
		}
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("open %s: %w: %v", path, ErrDamaged, errors.Join(errs...))
		}
		return nil
	})
}

// full maps a failed growth of the file to ErrFull.
func full(err error) error {
	if errors.Is(err, bolterrors.ErrMaxSizeReached) || errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %v", ErrFull, err)
	}
	return err
}

// Close closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Path returns the file's path.
func (db *DB) Path() string { return db.path }

// Check runs bbolt's consistency check and returns every problem found.
func (db *DB) Check() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// Backup writes a consistent copy of the file to w.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Size returns the data file's size in bytes.
func (db *DB) Size() int64 {
	var n int64
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n
}

// timeKey encodes t for keys that must sort by time.
func timeKey(t time.Time, id string) []byte {
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	copy(k[8:], id)
	return k
}

func keyTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC()
}

func joinKey(prefix, id string) []byte {
	k := make([]byte, 0, len(prefix)+1+len(id))
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, id...)
}

func prefixKey(prefix string) []byte { return append([]byte(prefix), 0) }

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func addCount(tx *bolt.Tx, key string, delta int64) error {
	b := tx.Bucket(bucketCounts)
	var n int64
	if v := b.Get([]byte(key)); v != nil {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		n = 0
	}
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(n))
	return b.Put([]byte(key), v)
}

// putStep writes s and keeps every index and counter in step with it. old is
// the step as stored before, or nil for a new step.
func putStep(tx *bolt.Tx, old, s *Step) error {
	if old != nil {
		if err := unindexStep(tx, old); err != nil {
			return err
		}
	}
	if err := putJSON(appendBucket(tx, bucketSteps), []byte(s.ID), s); err != nil {
		return err
	}
	return indexStep(tx, s)
}

func indexStep(tx *bolt.Tx, s *Step) error {
	if s.Status == StatusPlanned {
		if err := tx.Bucket(bucketDue).Put(timeKey(s.DueAt, s.ID), nil); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketByEmail).Put(joinKey(Key(s.Email), s.ID), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bucketByStatus).Put(joinKey(string(s.Status), s.ID), nil); err != nil {
		return err
	}
	if err := addCount(tx, "s/"+string(s.Status), 1); err != nil {
		return err
	}
	return addCount(tx, "f/"+s.Flow+"/"+string(s.Status), 1)
}

func unindexStep(tx *bolt.Tx, s *Step) error {
	if s.Status == StatusPlanned {
		if err := tx.Bucket(bucketDue).Delete(timeKey(s.DueAt, s.ID)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketByStatus).Delete(joinKey(string(s.Status), s.ID)); err != nil {
		return err
	}
	if err := addCount(tx, "s/"+string(s.Status), -1); err != nil {
		return err
	}
	return addCount(tx, "f/"+s.Flow+"/"+string(s.Status), -1)
}

// appendBucket returns a bucket whose keys mostly arrive in increasing
// order (ULID-based run and step ids): its pages are filled to 90% instead
// of bbolt's 50% split, which nearly halves the file.
func appendBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = 0.9
	return b
}

func loadStep(tx *bolt.Tx, id string) (*Step, error) {
	var s Step
	if err := getJSON(tx.Bucket(bucketSteps), []byte(id), &s); err != nil {
		return nil, fmt.Errorf("step %s: %w", id, err)
	}
	return &s, nil
}

// forPrefix calls fn with the id part of every key of b that starts with
// prefix+0, in key order, until fn returns false.
func forPrefix(b *bolt.Bucket, prefix string, fn func(id string) bool) {
	p := prefixKey(prefix)
	c := b.Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if !fn(string(k[len(p):])) {
			return
		}
	}
}

// Secret returns the random secret stored under name, creating it on first
// use, so a value such as the unsubscribe signing key survives restarts
// without configuration.
func (db *DB) Secret(name string, size int) ([]byte, error) {
	var out []byte
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		key := []byte("secret/" + name)
		if v := b.Get(key); v != nil {
			out = append([]byte(nil), v...)
			return nil
		}
		out = make([]byte, size)
		if _, err := rand.Read(out); err != nil {
			return err
		}
		return b.Put(key, out)
	})
	return out, err
}
