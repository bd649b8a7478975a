//go:build fault

package faulttest

import (
	"fmt"
	"os"
	"testing"

	"github.com/strideapp/stride/app/internal/stridebin"
)

// strideBin is the stride binary every test runs, built once.
var strideBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stride-fault-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if strideBin, err = stridebin.Build(dir); err != nil {
		fmt.Fprintf(os.Stderr, "faulttest: %v\n", err)
		return 1
	}
	return m.Run()
}
