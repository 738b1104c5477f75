package jit

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The SP's groups in every group test. IDs are deliberately not in name
// order so sorting by name is observable.
var testGroups = []Group{
	{ID: 4, Name: "Viewers"},
	{ID: 1, Name: "Engineering"},
	{ID: 3, Name: "Sales"},
	{ID: 2, Name: "Ops"},
}

const groupAttr = "memberOf"

// groupsSent is one way an IdP can send (or not send) the group attribute,
// with what the SP must make of it when Group Membership is configured.
type groupsSent struct {
	name    string
	present bool     // attribute key present in the assertion
	values  []string // its values
	// Expected when configured: matched SP group names (sorted, SP spelling)
	// and the ignored values (first spelling, arrival order).
	matched []string
	ignored []string
}

var groupScenarios = []groupsSent{
	{name: "absent", present: false,
		matched: nil, ignored: nil},
	{name: "present-no-values", present: true, values: []string{},
		matched: nil, ignored: nil},
	{name: "only-blank-values", present: true, values: []string{"", "   ", "\t"},
		matched: nil, ignored: nil},
	{name: "all-unknown", present: true, values: []string{"Marketing", "HR", "marketing", " hr "},
		matched: nil, ignored: []string{"Marketing", "HR"}},
	{name: "some-match-other-case", present: true, values: []string{"VIEWERS", " sales ", "Finance"},
		matched: []string{"Sales", "Viewers"}, ignored: []string{"Finance"}},
	{name: "duplicates-in-several-cases", present: true, values: []string{"Engineering", "ENGINEERING", "engineering"},
		matched: []string{"Engineering"}, ignored: nil},
	{name: "comma-list-not-split", present: true, values: []string{"Engineering,Sales"},
		matched: nil, ignored: []string{"Engineering,Sales"}},
	{name: "exact-names", present: true, values: []string{"Ops", "Engineering"},
		matched: []string{"Engineering", "Ops"}, ignored: nil},
}

// defaultsSetting is one DefaultUserGroups configuration with the SP groups
// it must resolve to (sorted, SP spelling).
type defaultsSetting struct {
	name     string
	defaults []string
	resolved []string
}

var defaultScenarios = []defaultsSetting{
	{name: "none", defaults: nil, resolved: nil},
	{name: "one", defaults: []string{"viewers"}, resolved: []string{"Viewers"}},
	{name: "deleted-only", defaults: []string{"Contractors"}, resolved: nil},
	{name: "deleted-and-existing", defaults: []string{"Contractors", "VIEWERS", "ops"}, resolved: []string{"Ops", "Viewers"}},
}

func TestProvisionGroupsCrossProduct(t *testing.T) {
	for _, configured := range []bool{true, false} {
		for _, gs := range groupScenarios {
			for _, ds := range defaultScenarios {
				name := fmt.Sprintf("configured=%v/%s/defaults=%s", configured, gs.name, ds.name)
				t.Run(name, func(t *testing.T) {
					r := Rules{DefaultUserGroups: ds.defaults}
					if configured {
						r.GroupMembershipAttr = groupAttr
					}
					a := Assertion{NameID: "alice@example.com", Attributes: map[string][]string{}}
					if gs.present {
						a.Attributes[groupAttr] = gs.values
					}

					// The oracle, stated per axis:
					//  - not configured: defaults only, nothing reported ignored;
					//  - configured and something matched: exactly the matches;
					//  - configured and nothing matched: the defaults.
					var wantPolicy GroupPolicy
					var wantGroups, wantIgnored []string
					var wantDefaults bool
					switch {
					case !configured:
						wantPolicy = GroupsOnCreate
						wantGroups, wantIgnored = ds.resolved, nil
						wantDefaults = len(ds.resolved) > 0
					case len(gs.matched) > 0:
						wantPolicy = ReplaceGroups
						wantGroups, wantIgnored = gs.matched, gs.ignored
						wantDefaults = false
					default:
						wantPolicy = ReplaceGroups
						wantGroups, wantIgnored = ds.resolved, gs.ignored
						wantDefaults = len(ds.resolved) > 0
					}

					o, err := Provision(r, testGroups, a)
					if err != nil {
						t.Fatalf("Provision: %v", err)
					}
					if o.Policy != wantPolicy {
						t.Errorf("Policy = %v, want %v", o.Policy, wantPolicy)
					}
					if got := groupNames(o.Groups); !equalStrings(got, wantGroups) {
						t.Errorf("Groups = %q, want %q", got, wantGroups)
					}
					if !equalStrings(o.Ignored, wantIgnored) {
						t.Errorf("Ignored = %q, want %q", o.Ignored, wantIgnored)
					}
					if o.UsedDefaults != wantDefaults {
						t.Errorf("UsedDefaults = %v, want %v", o.UsedDefaults, wantDefaults)
					}
					checkGroupIDs(t, o.Groups)
				})
			}
		}
	}
}

// groupNames lists names; checkGroupIDs makes sure each carries the SP's ID.
func groupNames(gs []Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func checkGroupIDs(t *testing.T, gs []Group) {
	t.Helper()
	for _, g := range gs {
		found := false
		for _, e := range testGroups {
			if e == g {
				found = true
			}
		}
		if !found {
			t.Errorf("group %+v is not one of the SP's groups", g)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestProvisionGroupAttributeNameCaseInsensitive(t *testing.T) {
	r := Rules{GroupMembershipAttr: "memberof"}
	a := Assertion{NameID: "bob", Attributes: map[string][]string{"MemberOf": {"ops"}}}
	o, err := Provision(r, testGroups, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupNames(o.Groups); !equalStrings(got, []string{"Ops"}) {
		t.Fatalf("Groups = %q, want [Ops]", got)
	}
}

func TestProvisionExactAttributeNameWins(t *testing.T) {
	r := Rules{GroupMembershipAttr: "groups"}
	a := Assertion{NameID: "bob", Attributes: map[string][]string{
		"groups": {"Sales"},
		"Groups": {"Ops"},
	}}
	o, err := Provision(r, testGroups, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupNames(o.Groups); !equalStrings(got, []string{"Sales"}) {
		t.Fatalf("Groups = %q, want [Sales]", got)
	}
}

func TestProvisionGroupsSortedByNameThenID(t *testing.T) {
	// Two SP groups whose names differ only in case (the store forbids it,
	// but the rules must still be deterministic).
	existing := []Group{{ID: 9, Name: "beta"}, {ID: 7, Name: "Beta"}, {ID: 5, Name: "alpha"}}
	r := Rules{GroupMembershipAttr: "g"}
	a := Assertion{NameID: "x", Attributes: map[string][]string{"g": {"BETA", "Alpha"}}}
	o, err := Provision(r, existing, a)
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{{ID: 5, Name: "alpha"}, {ID: 7, Name: "Beta"}, {ID: 9, Name: "beta"}}
	if len(o.Groups) != len(want) {
		t.Fatalf("Groups = %+v, want %+v", o.Groups, want)
	}
	for i := range want {
		if o.Groups[i] != want[i] {
			t.Fatalf("Groups = %+v, want %+v", o.Groups, want)
		}
	}
}

func TestProvisionNoExistingGroups(t *testing.T) {
	r := Rules{GroupMembershipAttr: "g", DefaultUserGroups: []string{"Viewers"}}
	a := Assertion{NameID: "x", Attributes: map[string][]string{"g": {"Viewers"}}}
	o, err := Provision(r, nil, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Groups) != 0 || o.UsedDefaults || !equalStrings(o.Ignored, []string{"Viewers"}) {
		t.Fatalf("got %+v", o)
	}
}

func TestProvisionIdentifier(t *testing.T) {
	const uid = "uid"
	tests := []struct {
		name    string
		rule    string // Rules.UniqueIdentifier
		nameID  string
		attrs   map[string][]string
		wantID  string
		wantKey string
		wantErr error
	}{
		{name: "nameid-default", nameID: "Alice@Example.com",
			wantID: "Alice@Example.com", wantKey: "alice@example.com"},
		{name: "nameid-whitespace", nameID: "  Alice@Example.com \n",
			wantID: "Alice@Example.com", wantKey: "alice@example.com"},
		{name: "nameid-empty", nameID: "", wantErr: ErrNoIdentifier},
		{name: "nameid-blank", nameID: "   ", wantErr: ErrNoIdentifier},
		{name: "nameid-ignores-attributes-when-rule-blank", nameID: "n1",
			attrs: map[string][]string{uid: {"a1"}}, wantID: "n1", wantKey: "n1"},
		{name: "nameid-haiadmin", nameID: "haiadmin", wantErr: ErrReservedIdentifier},
		{name: "nameid-HAIADMIN", nameID: "HAIADMIN", wantErr: ErrReservedIdentifier},
		{name: "nameid-spaced-HaiAdmin", nameID: " HaiAdmin ", wantErr: ErrReservedIdentifier},
		{name: "nameid-haiadmin-prefix-is-fine", nameID: "haiadmin2", wantID: "haiadmin2", wantKey: "haiadmin2"},

		{name: "attr-present", rule: uid, nameID: "ignored-nameid",
			attrs: map[string][]string{uid: {"E123"}}, wantID: "E123", wantKey: "e123"},
		{name: "attr-first-non-empty", rule: uid, nameID: "n",
			attrs: map[string][]string{uid: {"", "  ", " E7 ", "E8"}}, wantID: "E7", wantKey: "e7"},
		{name: "attr-name-other-case", rule: "UID", nameID: "n",
			attrs: map[string][]string{"uid": {"E9"}}, wantID: "E9", wantKey: "e9"},
		{name: "attr-missing-no-fallback-to-nameid", rule: uid, nameID: "alice",
			attrs: map[string][]string{"other": {"x"}}, wantErr: ErrNoIdentifier},
		{name: "attr-nil-attributes", rule: uid, nameID: "alice", wantErr: ErrNoIdentifier},
		{name: "attr-only-blank", rule: uid, nameID: "alice",
			attrs: map[string][]string{uid: {"", " "}}, wantErr: ErrNoIdentifier},
		{name: "attr-haiadmin", rule: uid, nameID: "alice",
			attrs: map[string][]string{uid: {"haiadmin"}}, wantErr: ErrReservedIdentifier},
		{name: "attr-spaced-HaiAdmin", rule: uid, nameID: "alice",
			attrs: map[string][]string{uid: {" HaiAdmin "}}, wantErr: ErrReservedIdentifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Provision(Rules{UniqueIdentifier: tc.rule}, nil, Assertion{NameID: tc.nameID, Attributes: tc.attrs})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if o.Identifier != tc.wantID || o.Key != tc.wantKey {
				t.Fatalf("Identifier, Key = %q, %q; want %q, %q", o.Identifier, o.Key, tc.wantID, tc.wantKey)
			}
		})
	}
}

func TestProvisionAttributes(t *testing.T) {
	r := Rules{FirstNameAttr: "fn", LastNameAttr: "ln", EmailAttr: "mail", ShortNameAttr: ""}
	a := Assertion{NameID: "alice", Attributes: map[string][]string{
		"fn":        {"  Alice ", "Ally"},
		"LN":        {"Smith"},
		"mail":      {"", "alice@example.com"},
		"shortName": {"ali"}, // not mapped: ShortNameAttr is blank
	}}
	o, err := Provision(r, nil, a)
	if err != nil {
		t.Fatal(err)
	}
	want := Outcome{Identifier: "alice", Key: "alice", FirstName: "Alice", LastName: "Smith", Email: "alice@example.com", ShortName: ""}
	if o.Identifier != want.Identifier || o.Key != want.Key || o.FirstName != want.FirstName ||
		o.LastName != want.LastName || o.Email != want.Email || o.ShortName != want.ShortName {
		t.Fatalf("got %+v, want %+v", o, want)
	}

	// Missing attributes leave the fields empty.
	o, err = Provision(Rules{FirstNameAttr: "fn", EmailAttr: "mail"}, nil, Assertion{NameID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if o.FirstName != "" || o.Email != "" {
		t.Fatalf("got %+v", o)
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		first, last, short, id string
		want                   string
	}{
		{"Alice", "Smith", "ali", "a@x", "Alice Smith"},
		{"Alice", "", "ali", "a@x", "Alice"},
		{"", "Smith", "ali", "a@x", "Smith"},
		{"", "", "ali", "a@x", "ali"},
		{"", "", "", "a@x", "a@x"},
		{"", "", "", "", ""},
		{" Alice ", " Smith ", "", "a@x", "Alice   Smith"},
	}
	for _, tc := range tests {
		if got := DisplayName(tc.first, tc.last, tc.short, tc.id); got != tc.want {
			t.Errorf("DisplayName(%q, %q, %q, %q) = %q, want %q", tc.first, tc.last, tc.short, tc.id, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"Alice@Example.COM": "alice@example.com",
		"  Bob \t":          "bob",
		"":                  "",
		" HaiAdmin ":        ReservedIdentifier,
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

// Provision must not alias or modify its inputs.
func TestProvisionDoesNotMutateInputs(t *testing.T) {
	existing := []Group{{ID: 2, Name: "b"}, {ID: 1, Name: "a"}}
	values := []string{"B", "A", "zz"}
	defaults := []string{"a"}
	_, err := Provision(Rules{GroupMembershipAttr: "g", DefaultUserGroups: defaults}, existing,
		Assertion{NameID: "x", Attributes: map[string][]string{"g": values}})
	if err != nil {
		t.Fatal(err)
	}
	if existing[0].Name != "b" || existing[1].Name != "a" ||
		strings.Join(values, ",") != "B,A,zz" || defaults[0] != "a" {
		t.Fatal("inputs were modified")
	}
}
