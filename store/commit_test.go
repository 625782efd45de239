package store

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestCommitter_OneFailureDoesNotFailOthers(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c committer
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.run(db, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("b"))
				if err != nil {
					return err
				}
				if i == 7 {
					return boom
				}
				return b.Put([]byte{byte(i)}, []byte{1})
			})
		}()
	}
	wg.Wait()
	n := 0
	_ = db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("b")).Stats().KeyN
		return nil
	})
	for i, err := range errs {
		if (i == 7) != errors.Is(err, boom) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n != 49 {
		t.Fatalf("%d writes stored, want 49", n)
	}
}
