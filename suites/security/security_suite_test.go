// Package security_test holds the browser specs for SAML security
// conformance: the mock IdP sends each fault of its library (mockidp
// Faults) and the SP must refuse it and change nothing, or, for the valid
// variants, sign the person in.
package security_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

var suite = framework.Setup()

func TestSecurity(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "SAML security conformance")
}
