package mockidp

import (
	"html"
	"regexp"
	"slices"
	"testing"

	"github.com/crewjam/saml"
)

var (
	groupAttrFieldRe = regexp.MustCompile(`id="groupAttribute" name="groupAttribute" value="([^"]*)"`)
	flavourSelRe     = regexp.MustCompile(`<option value="([^"]*)" data-group-attribute="[^"]*" selected>`)
)

// signInAsShown loads the IdP-initiated login page, submits it as a browser
// does — with the group attribute and flavour the page pre-fills — for
// user, with typed group attribute name typed ("" keeps the pre-filled
// one), and returns the assertion and the pre-filled group attribute.
func (e *env) signInAsShown(t *testing.T, user, typed string) (*saml.Assertion, string) {
	t.Helper()
	page := e.loginPage(t)
	action, form := parseLogin(t, page)
	m := groupAttrFieldRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no group attribute field on the login page")
	}
	shown := html.UnescapeString(m[1])
	flavour := FlavourGeneric
	if m := flavourSelRe.FindStringSubmatch(page); m != nil {
		flavour = m[1]
	}
	form.Set("persona", "")
	form.Set("username", user)
	form.Set("flavour", flavour)
	form.Set("groupAttribute", shown)
	if typed != "" {
		form.Set("groupAttribute", typed)
	}
	if !e.sp.AllowIDPInitiated {
		e.sp.AllowIDPInitiated = true
	}
	a, err := e.sp.ParseXMLResponse(samlResponse(t, e.post(idpBase+action, form)), nil, e.sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refused the response: %v", err)
	}
	return a, shown
}

func attributeNames(a *saml.Assertion) []string {
	var names []string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			names = append(names, at.Name)
		}
	}
	return names
}

// A login queued with a flavour (and no groupAttribute) sends its groups
// under that flavour's group attribute name, though the browser submits the
// field the page pre-filled (the IdP's default, or the form's or SP's
// flavour's name): before, the pre-filled name was kept, so a queued Entra
// login sent its GUIDs as "groups".
func TestQueuedFlavourSendsItsGroupAttribute(t *testing.T) {
	for _, groupAttr := range []string{"", "memberOf"} {
		e := newEnv(t, envOpts{register: true, groupAttr: groupAttr})
		for _, spDefault := range append([]string{""}, flavourIDList()...) {
			e.idp.spFlavours = map[string]string{}
			if spDefault != "" {
				e.idp.spFlavours[testSPEntityID] = spDefault
			}
			for _, queued := range flavourIDList() {
				fl, _ := LookupFlavour(queued)
				want := fl.groupAttributeName(e.idp.groupAttr)
				user := "qa-" + spDefault + "-" + queued + "@x"
				wantJSON(t, e.api("PUT", queuePath(user), `{"flavour":"`+queued+`","groups":["Sales"]}`), 201, nil)
				a, shown := e.signInAsShown(t, user, "")
				names := attributeNames(a)
				if !slices.Contains(names, want) || (shown != want && slices.Contains(names, shown)) {
					t.Errorf("--group-attribute %q, SP flavour %q, form showed %q, queued %s: attributes %q, want the groups under %q",
						groupAttr, spDefault, shown, queued, names, want)
				}
				if l := lastLog(t, e.idp); l.Flavour != queued {
					t.Errorf("logged flavour %q, want %q", l.Flavour, queued)
				}
			}
		}
	}
}

// A groupAttribute in the queue entry wins over the queued flavour's; a
// name typed on the form (none of the defaults it shows) is kept, like any
// option set explicitly on the form, unless the queue names one.
func TestQueuedGroupAttributeAndTypedNames(t *testing.T) {
	e := newEnv(t, envOpts{register: true})
	for _, tc := range []struct {
		name, body, typed, want string
	}{
		{"queued name wins over the flavour", `{"flavour":"entra","groupAttribute":"memberOf","groups":["Sales"]}`, "", "memberOf"},
		{"queued name wins over a typed one", `{"flavour":"entra","groupAttribute":"memberOf","groups":["Sales"]}`, "roles", "memberOf"},
		{"a typed name is kept", `{"flavour":"entra","groups":["Sales"]}`, "roles", "roles"},
		{"no queued flavour: the form's field", `{"groups":["Sales"]}`, "", DefaultGroupAttribute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantJSON(t, e.api("PUT", queuePath("qt@x"), tc.body), 201, nil)
			a, _ := e.signInAsShown(t, "qt@x", tc.typed)
			if names := attributeNames(a); !slices.Contains(names, tc.want) {
				t.Errorf("attributes %q, want the groups under %q", names, tc.want)
			}
		})
	}
}

func flavourIDList() []string {
	var ids []string
	for _, f := range Flavours() {
		ids = append(ids, f.ID)
	}
	return ids
}
