// Package mockidp_test holds the browser specs of the mock IdP itself:
// personas (one click, edited), how groups are sent, NameID formats,
// signing options, IdP-initiated login and the response log. Each spec is
// labelled "mockidp" and, where one fits, with the requirement of the SP
// behaviour it also observes.
package mockidp_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

var suite = framework.Setup()

func TestMockIdP(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Mock IdP")
}
