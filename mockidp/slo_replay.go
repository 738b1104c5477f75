package mockidp

import (
	"sync"
	"time"

	"github.com/crewjam/saml"
)

// maxLogoutReplayEntries bounds the LogoutRequest replay cache: when it is
// full of unexpired IDs, the one expiring first is dropped.
const maxLogoutReplayEntries = 4096

// logoutReplayKey is one answered LogoutRequest: the SP that sent it and
// its ID (two SPs may pick the same ID).
type logoutReplayKey struct{ sp, id string }

// logoutReplayCache remembers the LogoutRequests this IdP answered until
// they would no longer be accepted anyway, so a captured signed request
// cannot be replayed to log out the user again. Not crewjam's
// IdentityProvider.ReplayCache: that one also refuses a signed
// AuthnRequest answered before, which a test IdP must keep answering.
type logoutReplayCache struct {
	mu      sync.Mutex
	expires map[logoutReplayKey]time.Time
}

func newLogoutReplayCache() *logoutReplayCache {
	return &logoutReplayCache{expires: map[logoutReplayKey]time.Time{}}
}

// logoutRequestDeadline is the last moment crewjam's Validate accepts req:
// IssueInstant plus MaxIssueDelay, or NotOnOrAfter plus the clock skew if
// that is earlier.
func logoutRequestDeadline(req *saml.LogoutRequest) time.Time {
	deadline := req.IssueInstant.Add(saml.MaxIssueDelay)
	if req.NotOnOrAfter != nil {
		if d := req.NotOnOrAfter.Add(saml.MaxClockSkew); d.Before(deadline) {
			deadline = d
		}
	}
	return deadline
}

// consume records sp's request id as answered until expiresAt; false if it
// was answered before and has not expired at now.
func (c *logoutReplayCache) consume(sp, id string, expiresAt, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := logoutReplayKey{sp, id}
	if exp, ok := c.expires[key]; ok && now.Before(exp) {
		return false
	}
	if len(c.expires) >= maxLogoutReplayEntries {
		c.evict(now)
	}
	c.expires[key] = expiresAt
	return true
}

// evict drops expired entries, or the one expiring first if none has.
func (c *logoutReplayCache) evict(now time.Time) {
	var first logoutReplayKey
	var firstExp time.Time
	for k, exp := range c.expires {
		if !now.Before(exp) {
			delete(c.expires, k)
			continue
		}
		if firstExp.IsZero() || exp.Before(firstExp) {
			first, firstExp = k, exp
		}
	}
	if len(c.expires) >= maxLogoutReplayEntries {
		delete(c.expires, first)
	}
}
