package digest_test

import (
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }
