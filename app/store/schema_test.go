package store_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/store"
)

// column is one column of a table or view as both databases can describe it: its name and
// whether it may hold NULL (types are spelled differently and are not compared).
type column struct {
	Table, Name string
	NotNull     bool
}

func (c column) String() string {
	null := "NULL"
	if c.NotNull {
		null = "NOT NULL"
	}
	return fmt.Sprintf("%s.%s %s", c.Table, c.Name, null)
}

// sqliteOnly are the intended differences of the schemas, each with its reason; PostgreSQL
// has nothing SQLite lacks (its table storage settings, fillfactor, are not schema).
var sqliteOnly = map[string]string{}

// postgresOnly are the PostgreSQL indexes SQLite has no kind of: trigram indexes for
// substring searches.
var postgresOnly = map[string]bool{"index learners_email_trgm": true, "index learners_name_trgm": true}

func init() {
	// The high-volume tables keep site_id without a foreign key on PostgreSQL: the key's
	// lock on the site row serialised the webhook path and the workers. SQLite has one
	// writer anyway and keeps them.
	for _, t := range []string{"inbox", "learner_events", "enrollments", "learners", "courses", "chapters", "lessons",
		"lesson_completions", "lesson_stats", "daily_stats", "progress_buckets"} {
		sqliteOnly["foreign key "+t+".site_id → sites"] = "hot table"
	}
}

// schema lists every column of every table and view Stride's migrations made.
func schema(t *testing.T, db *store.DB) map[string]column {
	t.Helper()
	var cols []column
	var err error
	if db.Postgres() {
		err = db.Gorm().Raw(`SELECT c.table_name AS "table", c.column_name AS name,
				(c.is_nullable = 'NO' AND t.table_type = 'BASE TABLE') AS not_null
			FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema()`).Scan(&cols).Error
	} else {
		// A primary key column is NOT NULL on PostgreSQL whatever its declaration.
		err = db.Gorm().Raw(`SELECT m.name AS "table", p.name AS name, (p."notnull" = 1 OR p.pk > 0) AND m.type = 'table' AS not_null
			FROM sqlite_master m, pragma_table_info(m.name) p
			WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%'`).Scan(&cols).Error
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]column{}
	for _, c := range cols {
		if c.Table == "goose_db_version" {
			continue // the migration tool's own table, made by it differently on each
		}
		out[c.Table+"."+c.Name] = c
	}
	return out
}

// constraints lists the foreign keys and the indexes the migrations created by name (not
// those behind a primary key or a UNIQUE constraint, which each database names its own way).
func constraints(t *testing.T, db *store.DB) []string {
	t.Helper()
	var fks, indexes []string
	var err error
	if db.Postgres() {
		err = db.Gorm().Raw(`SELECT 'foreign key ' || c.conrelid::regclass || '.' || a.attname || ' → ' || c.confrelid::regclass
			FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`).Scan(&fks).Error
		if err == nil {
			err = db.Gorm().Raw(`SELECT 'index ' || i.indexname FROM pg_indexes i
				WHERE i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`).Scan(&indexes).Error
		}
	} else {
		err = db.Gorm().Raw(`SELECT 'foreign key ' || m.name || '.' || f."from" || ' → ' || f."table"
			FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`).Scan(&fks).Error
		if err == nil {
			err = db.Gorm().Raw(`SELECT 'index ' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`).Scan(&indexes).Error
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return append(fks, indexes...)
}

// The two migration folders make one schema: after migrating, both databases have the same
// tables and views, with the same columns, NULL where the other allows NULL, the same
// indexes and the same foreign keys but for the intended differences (sqliteOnly).
func TestSchemasAgree(t *testing.T) {
	pgDB, liteDB := openDB(t, testdb.Postgres(t), ""), openDB(t, "", t.TempDir())
	pg, lite := schema(t, pgDB), schema(t, liteDB)
	if len(pg) < 50 {
		t.Fatalf("only %d columns read from PostgreSQL", len(pg))
	}
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(pg)) {
		l, ok := lite[k]
		switch {
		case !ok:
			diff = append(diff, "only on PostgreSQL: "+pg[k].String())
		case l.NotNull != pg[k].NotNull:
			diff = append(diff, fmt.Sprintf("PostgreSQL has %s, SQLite %s", pg[k], l))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(lite)) {
		if _, ok := pg[k]; !ok {
			diff = append(diff, "only on SQLite: "+lite[k].String())
		}
	}
	pgc, litec := constraints(t, pgDB), constraints(t, liteDB)
	if len(pgc) < 10 || len(litec) < len(sqliteOnly)+10 {
		t.Fatalf("read %d keys and indexes from PostgreSQL, %d from SQLite", len(pgc), len(litec))
	}
	for _, c := range pgc {
		if !slices.Contains(litec, c) && !postgresOnly[c] {
			diff = append(diff, "only on PostgreSQL: "+c)
		}
	}
	for _, c := range litec {
		if !slices.Contains(pgc, c) && sqliteOnly[c] == "" {
			diff = append(diff, "only on SQLite: "+c)
		}
	}
	for c := range sqliteOnly {
		if !slices.Contains(litec, c) {
			diff = append(diff, "an intended difference is gone (update sqliteOnly): "+c)
		}
	}
	for _, view := range []string{"steps"} {
		if _, ok := pg[view+".lesson_id"]; !ok {
			diff = append(diff, "PostgreSQL has no "+view+" view")
		}
	}
	if len(diff) > 0 {
		t.Fatalf("the schemas differ:\n%s", strings.Join(diff, "\n"))
	}
}
