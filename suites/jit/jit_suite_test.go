// Package jit_test holds the browser specs for HMP's Just-in-Time
// provisioning, group mapping, the local bypass and the ACS.
package jit_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
)

var suite = framework.Setup()

func TestJIT(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "JIT conformance")
}
