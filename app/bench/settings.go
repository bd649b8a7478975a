package bench

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/strideapp/stride/app/config"
)

// passedThrough are the settings of the measured server that bear on the figures. The
// server runs with Stride's and Go's defaults; a setting the partner's environment holds is
// passed on, and the report says so.
var passedThrough = []string{
	"LOG_LEVEL", "DATABASE_MAX_CONNECTIONS", "PAIRING_WINDOW", "PAIRING_WAIT_FOR_LESSON",
	"GOMAXPROCS", "GOGC", "GOMEMLIMIT", "GODEBUG",
}

// setting is one of passedThrough as the server ran with it.
type setting struct {
	name, value string
	fromEnv     bool
}

func (s setting) String() string {
	if s.fromEnv {
		return s.name + "=" + s.value + " (from your environment)"
	}
	return s.name + "=" + s.value + " (default)"
}

// measuredSettings reads the server's environment as the server will, so that an invalid
// setting fails here, and a default is the one config holds.
func measuredSettings(env map[string]string) ([]setting, error) {
	cfg, err := config.Load(func(k string) string { return env[k] }, config.NeedAll)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	effective := map[string]string{
		"LOG_LEVEL":                strings.ToLower(cfg.LogLevel.String()),
		"DATABASE_MAX_CONNECTIONS": strconv.Itoa(cfg.MaxConnections),
		"PAIRING_WINDOW":           cfg.PairingWindow.String(),
		"PAIRING_WAIT_FOR_LESSON":  strconv.FormatBool(cfg.WaitForLesson),
		// The server is a process on this machine: Go gives it what it gives the bench.
		"GOMAXPROCS": strconv.Itoa(runtime.GOMAXPROCS(0)),
		"GOGC":       "100",
		"GOMEMLIMIT": "none",
		"GODEBUG":    "none",
	}
	out := make([]setting, len(passedThrough))
	for i, name := range passedThrough {
		out[i] = setting{name: name, value: effective[name]}
		if v, ok := env[name]; ok {
			out[i].value, out[i].fromEnv = v, true
		}
	}
	return out, nil
}
