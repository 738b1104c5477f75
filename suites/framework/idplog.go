package framework

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/hmpconform/hmpconform/mockidp"
)

// LastSent is the newest response this process's mock IdP logged for
// nameID (the NameID it sent); it fails the spec when there is none.
func (s *Suite) LastSent(nameID string) mockidp.LoggedResponse {
	GinkgoHelper()
	return s.lastLogged("a response for "+nameID, func(e mockidp.LoggedResponse) bool { return e.NameID == nameID })
}

// LastSentBy is the newest response of a login by user (the name typed on
// the login form), whatever NameID it sent (a transient one is random).
func (s *Suite) LastSentBy(user string) mockidp.LoggedResponse {
	GinkgoHelper()
	return s.lastLogged("a response for a login by "+user, func(e mockidp.LoggedResponse) bool { return e.User == user })
}

func (s *Suite) lastLogged(what string, match func(mockidp.LoggedResponse) bool) mockidp.LoggedResponse {
	GinkgoHelper()
	log := s.Env.IdP.Log()
	for i := len(log) - 1; i >= 0; i-- {
		if match(log[i]) {
			return log[i]
		}
	}
	Fail("the IdP log has no " + what)
	return mockidp.LoggedResponse{}
}
