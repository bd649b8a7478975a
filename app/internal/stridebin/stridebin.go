// Package stridebin builds the stride command, for tests that run it as a process of its
// own: to kill it, or to measure it alone.
package stridebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Root is the repository's top directory, where go.mod is.
func Root() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the module (go env GOMOD says %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// Build compiles ./app/cmd/stride into dir and returns the binary's path.
func Build(dir string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stride")
	cmd := exec.Command("go", "build", "-o", bin, "./app/cmd/stride")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./app/cmd/stride: %v\n%s", err, out)
	}
	return bin, nil
}
