// Package refsp assembles a runnable reference SP from a data directory:
// the SQLite store, the SP signing key pair, the haiadmin password and the
// HTTP server. Binaries, `make run` and the suites all start it this way.
package refsp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/hmpconform/hmpconform/internal/dirlock"
	"github.com/hmpconform/hmpconform/internal/keypair"
	"github.com/hmpconform/hmpconform/sp/server"
	"github.com/hmpconform/hmpconform/sp/store"
	"github.com/hmpconform/hmpconform/sp/store/sqlite"
)

// Options configure an SP instance.
type Options struct {
	DataDir string
	BaseURL *url.URL
	// AdminPassword sets (or resets) the haiadmin password; blank keeps the
	// stored one, or generates one on first start.
	AdminPassword string
	Now           func() time.Time
	Rand          io.Reader
	Logger        *slog.Logger
	// Mutation deliberately breaks the SP; only the mutation check sets it.
	Mutation *Mutation
	// PasswordCost is the bcrypt cost of the haiadmin hash; 0 means
	// server.DefaultPasswordCost. Only test stacks lower it.
	PasswordCost int
}

// Mutation is a deliberately broken variant of the reference SP, used to
// prove that the suites notice the fault (see sp/mutants). Any part may be
// nil.
type Mutation struct {
	Provision   server.ProvisionFunc
	WrapStore   func(store.Store) store.Store
	WrapHandler func(h http.Handler, st store.Store) http.Handler
}

// App is a running reference SP (without its listener).
type App struct {
	Server *server.Server
	Store  store.Store
	// GeneratedPassword is set when this start generated the haiadmin
	// password; it is also kept in DataDir/haiadmin-password.txt (0600).
	GeneratedPassword string

	mutation *Mutation
	unlock   func() // releases the data directory (dirlock.TryLock)
}

// PasswordFile is where a generated haiadmin password is kept for the
// person who started the SP.
const PasswordFile = "haiadmin-password.txt"

// Open builds the SP from opts.
func Open(ctx context.Context, opts Options) (*App, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// One SP per data directory: two on one SQLite database would each
	// think they own the sessions and the haiadmin password (the second met
	// SQLITE_BUSY mid-start).
	unlock, err := dirlock.TryLock(opts.DataDir, "refsp")
	if errors.Is(err, dirlock.ErrLocked) {
		return nil, fmt.Errorf("%w: %s is used by another running reference SP (hmpconform run, refsp or a suite); stop it, or give this one another data directory", ErrDataDirInUse, opts.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	app, err := open(ctx, opts)
	if err != nil {
		unlock()
		return nil, err
	}
	app.unlock = unlock
	return app, nil
}

// open builds the SP once Open holds the data directory.
func open(ctx context.Context, opts Options) (*App, error) {
	pair, err := keypair.LoadOrCreate(opts.DataDir, "sp-signing", "HMP reference SP", opts.Now())
	if err != nil {
		return nil, fmt.Errorf("sp key pair: %w", err)
	}
	st, err := sqlite.Open(filepath.Join(opts.DataDir, "hmp.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	generated, err := ensureAdminPassword(ctx, st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	var served store.Store = st
	var provision server.ProvisionFunc
	if m := opts.Mutation; m != nil {
		provision = m.Provision
		if m.WrapStore != nil {
			served = m.WrapStore(st)
		}
	}
	srv, err := server.New(server.Config{
		BaseURL: opts.BaseURL, Store: served, Key: pair.Key, Certificate: pair.Certificate,
		Now: opts.Now, Rand: opts.Rand, Logger: opts.Logger, Provision: provision,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &App{Server: srv, Store: st, GeneratedPassword: generated, mutation: opts.Mutation}, nil
}

// Handler is the SP's HTTP handler.
func (a *App) Handler() http.Handler {
	h := a.Server.Handler()
	if a.mutation != nil && a.mutation.WrapHandler != nil {
		h = a.mutation.WrapHandler(h, a.Store)
	}
	return h
}

// Close closes the store and gives the data directory up.
func (a *App) Close() error {
	err := a.Store.Close()
	if a.unlock != nil {
		a.unlock()
		a.unlock = nil
	}
	return err
}

// ErrDataDirInUse is Open's error when another SP holds the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

func ensureAdminPassword(ctx context.Context, st store.Store, opts Options) (generated string, err error) {
	pw := opts.AdminPassword
	if pw == "" {
		_, err := st.AdminPasswordHash(ctx)
		if err == nil {
			return "", nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("read admin password: %w", err)
		}
		raw := make([]byte, 15)
		if _, err := io.ReadFull(opts.Rand, raw); err != nil {
			return "", fmt.Errorf("generate admin password: %w", err)
		}
		pw = base64.RawURLEncoding.EncodeToString(raw)
		generated = pw
		if err := os.WriteFile(filepath.Join(opts.DataDir, PasswordFile), []byte(pw+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("keep admin password: %w", err)
		}
	}
	if generated == "" {
		// A password set from outside makes a kept, generated one stale.
		_ = os.Remove(filepath.Join(opts.DataDir, PasswordFile))
	}
	cost := opts.PasswordCost
	if cost == 0 {
		cost = server.DefaultPasswordCost
	}
	hash, err := server.HashPasswordCost(pw, cost)
	if err != nil {
		return "", err
	}
	if err := st.SetAdminPasswordHash(ctx, hash); err != nil {
		return "", fmt.Errorf("store admin password: %w", err)
	}
	return generated, nil
}
