package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"perfect/internal/config"
	"perfect/store"
)

// StoreCmd groups the data file commands.
type StoreCmd struct {
	Check  StoreCheckCmd  `cmd:"" help:"Run bbolt's consistency check on the data file."`
	Backup StoreBackupCmd `cmd:"" help:"Write a consistent copy of the data file."`
}

// StoreCheckCmd checks the file.
type StoreCheckCmd struct {
	File string `help:"Data file (default $PERFECT_DATA_DIR/perfect.db)."`
}

// StoreBackupCmd copies the file.
type StoreBackupCmd struct {
	File string `help:"Data file (default $PERFECT_DATA_DIR/perfect.db)."`
	To   string `required:"" help:"Where to write the copy."`
}

func dataFile(e *env, file string) (string, error) {
	if file != "" {
		return file, nil
	}
	cfg, err := config.Load(e.environ)
	if err != nil {
		return "", exitError{code: 2, msg: err.Error()}
	}
	return cfg.DataFile(), nil
}

func openForInspection(path string) (*store.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, exitError{code: 1, msg: fmt.Sprintf("data file %s: %v", path, err)}
	}
	db, err := store.Open(path, store.Options{ReadOnly: true, Timeout: 3 * time.Second})
	if errors.Is(err, store.ErrLocked) {
		return nil, exitError{code: 1, msg: fmt.Sprintf("data file %s is locked by a running server; "+
			"use the server's admin API or stop it first", path)}
	}
	if err != nil {
		return nil, exitError{code: 1, msg: fmt.Sprintf("data file %s cannot be opened (damaged or not a perfect data file): %v", path, err)}
	}
	return db, nil
}

// Run checks the file.
func (c StoreCheckCmd) Run(e *env) error {
	path, err := dataFile(e, c.File)
	if err != nil {
		return err
	}
	db, err := openForInspection(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("data file %s is damaged: %v", path, err)}
	}
	st, err := db.Stats(time.Now())
	if err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d bytes)\n", path, db.Size())
	for s, n := range st.ByStatus {
		fmt.Fprintf(e.stdout, "  %-10s %d\n", s, n)
	}
	fmt.Fprintf(e.stdout, "  outbox     %d pending, %d parked\n", st.OutboxPending, st.OutboxParked)
	return nil
}

// Run copies the file: from the running server when it holds the file
// (GET /admin/api/backup, a consistent read transaction), else directly.
func (c StoreBackupCmd) Run(e *env) error {
	path, err := dataFile(e, c.File)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(c.To, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return exitError{code: 1, msg: fmt.Sprintf("backup target: %v", err)}
	}
	var n int64
	db, err := store.Open(path, store.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, store.ErrLocked) && c.File == "":
		n, err = backupFromServer(e, f)
	case err != nil:
		_, err = openForInspection(path)
	default:
		if err = db.Check(); err != nil {
			err = fmt.Errorf("data file %s is damaged, nothing copied (cp copies it as it is): %w", path, err)
		} else {
			n, err = db.Backup(f)
		}
		db.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(c.To)
		return exitError{code: 1, msg: fmt.Sprintf("backup of %s: %v", path, err)}
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes)\n", c.To, n)
	return nil
}

func backupFromServer(e *env, w io.Writer) (int64, error) {
	qc, err := newQueueClient(e)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, qc.base+"/admin/api/backup", nil)
	if err != nil {
		return 0, err
	}
	if qc.token != "" {
		req.Header.Set("Authorization", "Bearer "+qc.token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("the data file is held by a server that does not answer at %s: %w", qc.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("backup from %s: status %d", qc.base, resp.StatusCode)
	}
	return io.Copy(w, resp.Body)
}
