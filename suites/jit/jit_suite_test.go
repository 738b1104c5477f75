// Package jit_test runs the JIT conformance specs (suites/specs) against
// the bundled reference SP, started in-process by each Ginkgo process.
package jit_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/hmpconform/hmpconform/suites/framework"
	"github.com/hmpconform/hmpconform/suites/specs"
)

var suite = framework.Setup()

var _ = specs.JIT(suite)

func TestJIT(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "JIT conformance")
}
