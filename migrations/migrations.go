// Package migrations holds Stride's schema as numbered SQL migrations, one folder per
// database. Both folders carry the same versions and build the same tables; a test checks it.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS
