// Command stride is the Stride Thinkific app: one binary for the web, the worker and
// migrations. See run.go for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// Memory is plentiful next to CPU on a dyno (about 60 MB used of 512): collect less often.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stride:", err)
		os.Exit(1)
	}
}
