package mockidp

import (
	"fmt"
	"strings"

	"github.com/crewjam/saml"
	"github.com/google/uuid"
)

// IdP flavours: a login can be shaped the way a given IdP product shapes
// its response by default (the table is flavour_table.go): attribute names
// and NameFormats, how groups are written, the NameID format and what is
// signed. An option the person sets explicitly on the login form wins over
// the flavour's default ("Entra, but with group names"); a blank option
// (the form's "flavour default") takes the flavour's.

// Names of the login form's flavour fields.
const (
	fieldFlavour     = "flavour"     // generic | okta | entra | adfs | google | keycloak
	fieldGroupFormat = "groupFormat" // name | guid | path; blank: the flavour's
)

// FlavourGeneric is the default flavour: the IdP's own behaviour.
const FlavourGeneric = "generic"

// How a flavour writes a group value.
const (
	GroupFormatName = "name" // the group's name
	GroupFormatGUID = "guid" // its object ID (Entra): the persona's groupIDs, else derived from the name
	GroupFormatPath = "path" // its path (Keycloak's Full group path): "/" + name
)

var groupFormats = []option{
	{GroupFormatName, "group names", ""},
	{GroupFormatGUID, "object IDs (GUIDs)", ""},
	{GroupFormatPath, "paths (/name)", ""},
}

// AttributeName is how a flavour names one attribute. An empty Name means
// the attribute is not sent (for the group attribute of the generic
// flavour: the IdP's configured default name).
type AttributeName struct{ Name, FriendlyName, NameFormat string }

// Flavour is one IdP product's default response shape.
type Flavour struct {
	ID, Label string
	// Sources are the vendor documents the defaults come from.
	Sources []string

	FirstName, LastName, Email, ShortName AttributeName
	Groups                                AttributeName
	// GroupFormat is GroupFormatName, GroupFormatGUID or GroupFormatPath.
	GroupFormat string
	// GroupLimit, when positive, is the most groups sent: with more, the
	// group attribute is left out and the groups.link claim sent (Entra).
	GroupLimit int
	// EntraUserClaims adds Entra's name, objectidentifier and tenantid.
	EntraUserClaims bool

	// Defaults of the login form's options (values of options.go's lists).
	NameIDFormat, SignWhat, SignAlg string
}

// Flavours returns the flavours, generic first.
func Flavours() []Flavour {
	out := make([]Flavour, len(flavours))
	copy(out, flavours)
	return out
}

// LookupFlavour finds a flavour by ID, ignoring case; "" is generic.
func LookupFlavour(id string) (Flavour, bool) {
	if strings.TrimSpace(id) == "" {
		id = FlavourGeneric
	}
	for _, f := range flavours {
		if strings.EqualFold(f.ID, strings.TrimSpace(id)) {
			return f, true
		}
	}
	return Flavour{}, false
}

func flavourIDs() string {
	ids := make([]string, len(flavours))
	for i, f := range flavours {
		ids[i] = f.ID
	}
	return strings.Join(ids, ", ")
}

// groupAttributeName is the flavour's group attribute name, or def (the
// IdP's configured default) when the flavour leaves it to the IdP.
func (fl Flavour) groupAttributeName(def string) string {
	if fl.Groups.Name != "" {
		return fl.Groups.Name
	}
	return def
}

// applyFlavour resolves a submitted form's flavour: blank options and a
// blank group attribute name take the flavour's defaults. The message is
// for the person.
func (s *Server) applyFlavour(f loginForm) (loginForm, Flavour, string) {
	if msg := flavourOptionsError(f.Options); msg != "" {
		return f, Flavour{}, msg
	}
	fl, _ := LookupFlavour(f.Options.Flavour)
	o := &f.Options
	o.Flavour = fl.ID
	for _, d := range []struct {
		field *string
		def   string
	}{
		{&o.NameIDFormat, fl.NameIDFormat}, {&o.SignWhat, fl.SignWhat}, {&o.SignAlg, fl.SignAlg},
	} {
		if *d.field == "" {
			*d.field = d.def
		}
	}
	if strings.TrimSpace(f.GroupAttribute) == "" {
		f.GroupAttribute = fl.groupAttributeName(s.groupAttr)
	}
	return f, fl, ""
}

// flavourOptionsError is what is wrong with o's flavour and group format,
// for the person; "" when both are known or blank. loginOptions.resolve
// calls it too, so that the scenario API refuses a queued login with an
// unknown flavour when it is queued, not at the login form.
func flavourOptionsError(o loginOptions) string {
	fl, ok := LookupFlavour(o.Flavour)
	if !ok {
		return "Unknown IdP flavour " + o.Flavour + " (" + flavourIDs() + ")."
	}
	if _, ok := lookupOption(groupFormats, o.GroupFormat, fl.GroupFormat); !ok {
		return "Unknown group format " + o.GroupFormat + " (name, guid or path)."
	}
	return ""
}

// shapeIdentity records on id what the flavour decides beyond the options:
// the group format, the group attribute's NameFormat when the form left it
// blank (a flavour may send none), and the persona's group IDs.
func (s *Server) shapeIdentity(id *identity, fl Flavour, o loginOptions) {
	id.Flavour = fl.ID
	id.GroupFormat = fl.GroupFormat
	if g, ok := lookupOption(groupFormats, o.GroupFormat, fl.GroupFormat); ok {
		id.GroupFormat = g.Value
	}
	if o.GroupNameFormat == "" {
		id.Options.GroupNameFormat = fl.Groups.NameFormat
	}
	if p, ok := s.personas.get(id.Persona); ok && id.Persona != "" {
		id.GroupIDs = p.GroupIDs
	}
}

// spFlavour is the flavour a login to sp uses when the form names none:
// Config.SPFlavours, else generic.
func (s *Server) spFlavour(sp, requested string) string {
	if strings.TrimSpace(requested) != "" {
		return requested
	}
	if f, ok := s.spFlavours[sp]; ok {
		return f
	}
	return FlavourGeneric
}

// guidNamespace is the UUID namespace of the IDs this IdP derives (RFC 9562
// name-based, SHA-1): the same name always gives the same ID.
var guidNamespace = uuid.MustParse("3d2f7a64-5f0e-4c53-9a43-6f1c2f0f5e21")

func derivedGUID(kind, name string) string {
	return uuid.NewSHA1(guidNamespace, []byte(kind+":"+name)).String()
}

// GroupObjectID is the object ID the Entra flavour sends for a group that
// the persona's groupIDs map does not name: derived from the exact name, so
// "Sales" and "SALES" are different groups, as they would be in a directory.
func GroupObjectID(name string) string { return derivedGUID("group", name) }

// UserObjectID and TenantID are the Entra flavour's objectidentifier and
// tenantid claims: derived from the user's name and the IdP's entity ID.
func UserObjectID(user string) string { return derivedGUID("user", user) }

// TenantID is the Entra flavour's tenant ID for an IdP entity ID.
func TenantID(entityID string) string { return derivedGUID("tenant", entityID) }

// groupValue writes group g in format.
func groupValue(g, format string, ids map[string]string) string {
	switch format {
	case GroupFormatGUID:
		if id, ok := ids[g]; ok {
			return strings.ToLower(id)
		}
		return GroupObjectID(g)
	case GroupFormatPath:
		if strings.HasPrefix(g, "/") {
			return g
		}
		return "/" + g
	}
	return g
}

// attributes builds the assertion's attributes for id, shaped by its
// flavour.
func (s *Server) attributes(id *identity) []saml.Attribute {
	fl, ok := LookupFlavour(id.Flavour)
	if !ok {
		fl, _ = LookupFlavour(FlavourGeneric)
	}
	var attrs []saml.Attribute
	add := func(n AttributeName, values ...string) {
		if n.Name == "" || len(values) == 0 {
			return
		}
		vs := make([]saml.AttributeValue, 0, len(values))
		for _, v := range values {
			vs = append(vs, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		attrs = append(attrs, saml.Attribute{Name: n.Name, FriendlyName: n.FriendlyName, NameFormat: n.NameFormat, Values: vs})
	}
	single := func(n AttributeName, v string) {
		if v != "" {
			add(n, v)
		}
	}
	single(fl.FirstName, id.FirstName)
	single(fl.LastName, id.LastName)
	single(fl.Email, id.Email)
	single(fl.ShortName, id.ShortName)

	user := id.User
	if user == "" {
		user = id.NameID
	}
	entra := entraUser{UPN: user, ObjectID: UserObjectID(user), TenantID: TenantID(s.EntityID())}
	if fl.EntraUserClaims {
		for _, c := range entraUserClaims {
			single(AttributeName{Name: c.Name}, c.Value(entra))
		}
	}
	if len(id.Groups) == 0 {
		return attrs
	}
	if fl.GroupLimit > 0 && len(id.Groups) > fl.GroupLimit {
		// Overage: no group claim at all, a link to the full list instead.
		single(AttributeName{Name: claimGroupsLink}, fmt.Sprintf(entraGroupsLink, entra.TenantID, entra.ObjectID))
		return attrs
	}
	values := make([]string, 0, len(id.Groups))
	for _, g := range id.Groups {
		values = append(values, groupValue(g, id.GroupFormat, id.GroupIDs))
	}
	if id.Options.Joined {
		values = []string{strings.Join(values, id.Options.Delimiter)}
	}
	add(AttributeName{Name: id.GroupAttribute, FriendlyName: fl.Groups.FriendlyName, NameFormat: id.Options.GroupNameFormat}, values...)
	return attrs
}

// flavourChoice is a flavour as the login form offers it.
type flavourChoice struct{ ID, Label, GroupAttribute string }

func (s *Server) flavourChoices() []flavourChoice {
	out := make([]flavourChoice, 0, len(flavours))
	for _, f := range flavours {
		out = append(out, flavourChoice{f.ID, f.Label, f.groupAttributeName(s.groupAttr)})
	}
	return out
}

// checkSPFlavours checks Config.SPFlavours and returns a copy with the
// flavours' canonical IDs.
func checkSPFlavours(m map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for sp, id := range m {
		f, ok := LookupFlavour(id)
		if !ok || strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("mockidp: SP %s: unknown IdP flavour %q (%s)", sp, id, flavourIDs())
		}
		out[sp] = f.ID
	}
	return out, nil
}

// flavourGroupAttribute is the group attribute name a blank form field
// stands for with flavour id: the flavour's, else the IdP's default.
func (s *Server) flavourGroupAttribute(id string) string {
	if fl, ok := LookupFlavour(id); ok {
		return fl.groupAttributeName(s.groupAttr)
	}
	return s.groupAttr
}

// preselectFlavour fills a form about to be drawn with no flavour chosen
// yet with the SP's default flavour, and that flavour's group attribute
// name when the field holds the IdP's default or nothing.
func (s *Server) preselectFlavour(f *loginForm, sp string) {
	if f.Options.Flavour != "" {
		return
	}
	fl, ok := LookupFlavour(s.spFlavour(sp, ""))
	if !ok {
		return
	}
	f.Options.Flavour = fl.ID
	if g := strings.TrimSpace(f.GroupAttribute); g == "" || g == s.groupAttr {
		f.GroupAttribute = fl.groupAttributeName(s.groupAttr)
	}
}
