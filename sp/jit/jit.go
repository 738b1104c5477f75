// Package jit holds HMP's Just-in-Time provisioning rules as a pure
// function: settings + the SP's existing groups + a verified assertion in,
// the account and the group memberships to write out. No I/O, no clock.
package jit

import "errors"

// Rules are the parts of the SP settings the provisioning rules read.
type Rules struct {
	// UniqueIdentifier names the attribute that identifies the user; blank
	// means the assertion's NameID.
	UniqueIdentifier string
	FirstNameAttr    string
	LastNameAttr     string
	EmailAttr        string
	ShortNameAttr    string
	// GroupMembershipAttr blank means "not configured": asserted groups are
	// ignored and only the defaults apply, on account creation.
	GroupMembershipAttr string
	// DefaultUserGroups are group names; ones that no longer exist are skipped.
	DefaultUserGroups []string
}

// Group is an SP group as the rules see it.
type Group struct {
	ID   int64
	Name string
}

// Assertion is what the SP read from a response whose signature, timing and
// addressing were already verified.
type Assertion struct {
	NameID string
	// Attributes by attribute Name; the SAML layer also files each attribute
	// under its FriendlyName when it has one.
	Attributes map[string][]string
}

// GroupPolicy says when the computed groups are written.
type GroupPolicy int

const (
	// ReplaceGroups: Group Membership is configured, so the user's groups are
	// recomputed from every assertion (added and removed).
	ReplaceGroups GroupPolicy = iota + 1
	// GroupsOnCreate: Group Membership is not configured; the defaults are
	// given when the account is created, after which the administrator owns
	// the user's groups.
	GroupsOnCreate
)

// Outcome is what a login writes.
type Outcome struct {
	// Identifier as asserted (trimmed); Key is its case-folded form, the
	// account's unique key.
	Identifier string
	Key        string
	FirstName  string
	LastName   string
	Email      string
	ShortName  string
	// Groups to hold, sorted by name, each once.
	Groups []Group
	Policy GroupPolicy
	// UsedDefaults is true when Groups came from DefaultUserGroups.
	UsedDefaults bool
	// Ignored lists asserted group values that matched no SP group.
	Ignored []string
}

// Errors the rules can return; the SP shows each as a refusal reason.
var (
	ErrNoIdentifier       = errors.New("the assertion carries no unique identifier")
	ErrReservedIdentifier = errors.New("the identifier is reserved for the local administrator")
)

// ReservedIdentifier is the built-in local administrator, who can never be
// reached through SSO.
const ReservedIdentifier = "haiadmin"
