package stack

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hmpconform/hmpconform/internal/tlsutil"
)

// Options.SPFlavours reaches the IdP (hmpconform run's --sp-flavour): the
// login page for the reference SP preselects its flavour; an unknown
// flavour stops the start with an error naming it.
func TestStartPassesSPFlavours(t *testing.T) {
	ca, err := tlsutil.NewCA("stack test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(t.Context(), Options{DataDir: t.TempDir(), IdPHost: "idp.mock.test", SPHost: "hmp.sp.test", CA: ca, PasswordCost: 4,
		SPFlavours: map[string]string{"urn:x": "ping"}}); err == nil || !strings.Contains(err.Error(), "ping") {
		t.Errorf("an unknown SP flavour: %v", err)
	}

	s, err := Start(t.Context(), Options{DataDir: t.TempDir(), IdPHost: "idp.mock.test", SPHost: "hmp.sp.test", CA: ca, PasswordCost: 4,
		SPFlavours: map[string]string{"urn:flavoured": "entra"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const sp = "urn:flavoured"
	if err := s.IdP.RegisterSPMetadataXML([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:flavoured">
<SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.test/acs" index="0"/>
</SPSSODescriptor></EntityDescriptor>`)); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.IdP.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.IdPURL.String()+"/idp/initiate?"+url.Values{"sp": {sp}}.Encode(), nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<option value="entra" data-group-attribute="http://schemas.microsoft.com/ws/2008/06/identity/claims/groups" selected>`) {
		t.Errorf("the login page for %s does not preselect entra (%d):\n%s", sp, rec.Code, rec.Body)
	}
}
