package mockidp

import (
	"strings"
	"testing"
)

// The /log page names where a login's values came from; for a login an IdP
// session answered it said "login form" while /api/log says "session".
func TestLogPageNamesTheSessionAsTheSource(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	s, err := e.idp.StartSession(SessionLogin{User: "logpage@example.com", Logins: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.sessionLogin(t, s.ID)
	body := e.getWithSession(idpBase+"/log", "").Body.String()
	i := strings.Index(body, `data-source="session"`)
	if i < 0 {
		t.Fatalf("no session entry on the log page:\n%.500s", body)
	}
	seg := body[i:min(len(body), i+120)]
	if strings.Contains(seg, "login form") || !strings.Contains(seg, "IdP session") {
		t.Errorf("the log page does not name the IdP session as the source: %s", seg)
	}
}
