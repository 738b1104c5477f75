package main

import "github.com/hmpconform/hmpconform/mockidp"

// flavourFlag is --sp-flavour entityID=flavour, repeatable: the IdP
// flavour of logins to that SP when the login form names none. The
// parsing is mockidp.SPFlavourFlag's, shared with `hmpconform run`.
type flavourFlag map[string]string

func (f flavourFlag) String() string { return mockidp.SPFlavourFlag(f).String() }

// Set takes the last "=" as the separator: an entity ID may contain one.
func (f flavourFlag) Set(v string) error { return mockidp.SPFlavourFlag(f).Set(v) }

// setFromEnv sets the flavours from MOCKIDP_SP_FLAVOUR's value v:
// entityID=flavour pairs separated by commas, as for MOCKIDP_SP_METADATA.
func (f flavourFlag) setFromEnv(v string) error {
	return mockidp.SPFlavourFlag(f).SetFromEnv("MOCKIDP_SP_FLAVOUR", v)
}
