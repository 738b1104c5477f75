package mutants

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hmpconform/hmpconform/sp/jit"
	"github.com/hmpconform/hmpconform/sp/settings"
	"github.com/hmpconform/hmpconform/sp/store"
)

// createUnknownGroups joins the user to a new group for every asserted
// group the SP did not have.
func createUnknownGroups(st store.Store) store.Store { return &unknownCreator{Store: st} }

type unknownCreator struct{ store.Store }

func (s *unknownCreator) ApplyLogin(ctx context.Context, o jit.Outcome, now time.Time) (store.User, bool, error) {
	if o.Policy == jit.ReplaceGroups {
		for _, name := range o.Ignored {
			g, err := s.CreateGroup(ctx, name, store.RoleViewer)
			if err != nil {
				continue
			}
			o.Groups = append(o.Groups, jit.Group{ID: g.ID, Name: g.Name})
			o.UsedDefaults = false
		}
	}
	return s.Store.ApplyLogin(ctx, o, now)
}

// secondAccount keys every sign-in of a known identifier to a new account.
func secondAccount(st store.Store) store.Store { return &accountMultiplier{Store: st} }

type accountMultiplier struct {
	store.Store
	mu sync.Mutex
	n  int
}

func (s *accountMultiplier) ApplyLogin(ctx context.Context, o jit.Outcome, now time.Time) (store.User, bool, error) {
	if _, err := s.UserByKey(ctx, o.Key); err == nil {
		s.mu.Lock()
		s.n++
		o.Key = fmt.Sprintf("%s#%d", o.Key, s.n)
		s.mu.Unlock()
	}
	return s.Store.ApplyLogin(ctx, o, now)
}

// keepSessions puts back the sessions Save Settings ended.
func keepSessions(st store.Store) store.Store {
	return &sessionKeeper{Store: st, live: map[string]store.Session{}}
}

type sessionKeeper struct {
	store.Store
	mu   sync.Mutex
	live map[string]store.Session
}

func (s *sessionKeeper) CreateSession(ctx context.Context, sess store.Session) error {
	s.mu.Lock()
	s.live[sess.TokenHash] = sess
	s.mu.Unlock()
	return s.Store.CreateSession(ctx, sess)
}

func (s *sessionKeeper) SaveSettings(ctx context.Context, cfg settings.Settings) (int, error) {
	n, err := s.Store.SaveSettings(ctx, cfg)
	if err != nil {
		return n, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.live {
		if !sess.Admin {
			_ = s.Store.CreateSession(ctx, sess)
		}
	}
	return 0, nil
}

// hideLogin sends /login to the IdP whenever SSO is configured.
func hideLogin(h http.Handler, st store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" && r.Method == http.MethodGet {
			if cfg, err := st.Settings(r.Context()); err == nil && cfg.Mode == settings.ModeJIT && cfg.SSOURL != "" {
				http.Redirect(w, r, "/sso/login", http.StatusFound)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
