// Package samltest helps tests obtain genuine signed responses from the
// mock IdP over HTTP, without a browser.
package samltest

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

var (
	respFormRe   = regexp.MustCompile(`<form method="post" action="([^"]*)" id="SAMLResponseForm">`)
	samlRespRe   = regexp.MustCompile(`<input type="hidden" name="SAMLResponse" value="([^"]*)" />`)
	relayStateRe = regexp.MustCompile(`<input type="hidden" name="RelayState" value="([^"]*)" />`)
)

// IdPInitiated submits the mock IdP's IdP-initiated login form (fields:
// sp, RelayState, username, groups, ...) and returns where the IdP's
// auto-submit form posts and its SAMLResponse and RelayState fields.
func IdPInitiated(client *http.Client, idpBase string, fields url.Values) (acs string, form url.Values, err error) {
	fields.Set("mockidp_login", "1")
	res, err := client.PostForm(strings.TrimSuffix(idpBase, "/")+"/idp/initiate", fields)
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", nil, err
	}
	body := string(b)
	if res.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("IdP login: %s: %.300s", res.Status, body)
	}
	fm, sm, rm := respFormRe.FindStringSubmatch(body), samlRespRe.FindStringSubmatch(body), relayStateRe.FindStringSubmatch(body)
	if fm == nil || sm == nil || rm == nil {
		return "", nil, fmt.Errorf("no SAMLResponseForm in the IdP's reply: %.300s", body)
	}
	return html.UnescapeString(fm[1]), url.Values{
		"SAMLResponse": {html.UnescapeString(sm[1])},
		"RelayState":   {html.UnescapeString(rm[1])},
	}, nil
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
