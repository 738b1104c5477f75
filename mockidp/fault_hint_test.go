package mockidp

import (
	"strings"
	"testing"
)

// The login page says, next to the fault select, that a fault ignores the
// signing options and the flavour's signing default (faults.go builds its
// own response).
func TestLoginPageSaysFaultsIgnoreSigningOptions(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	page := e.loginPage(t)
	sel := strings.Index(page, `<select id="fault"`)
	hint := strings.Index(page, `id="fault-signing-hint"`)
	if sel < 0 || hint < 0 {
		t.Fatalf("fault select at %d, hint at %d", sel, hint)
	}
	if hint < sel || !strings.Contains(page[hint:], "signing and encryption options above and the flavour") {
		t.Error("the hint is not after the fault select or does not name the signing options and flavour")
	}
}
