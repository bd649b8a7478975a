package store_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
)

// siteless are the tables that hold no site's rows, so that a database holding many sites
// can be split on site_id (distributed on it, or partitioned by it) with these kept whole
// beside the rest. Each has its reason.
var siteless = map[string]string{
	"sites":            "the sites themselves: their id is the site id",
	"inbox_unrouted":   "signed deliveries that no installed site takes yet: they have no site until one is installed",
	"launch_uses":      "used launch links, keyed by their MAC alone and gone within minutes: a handful of rows for all sites",
	"goose_db_version": "the migration tool's record",
}

// shared are the unique keys (primary keys, unique constraints and indexes) of site tables
// that do not hold site_id. A database distributed on site_id can enforce a unique key only
// within one site, so each of these would have to take site_id before the table is.
var shared = map[string]string{
	"inbox_pkey":          "inbox.id, an identity the worker's claims and the delivery log page by",
	"learner_events_pkey": "learner_events.id, an identity that partner_id refers to",
	"audit_events_pkey":   "audit_events.id, an identity",
}

// Every table but the siteless ones carries site_id, and every unique key of those tables
// holds it but the ones listed in shared: the schema can be split by site. PostgreSQL's
// catalog is read, as PostgreSQL is the database that would be split.
func TestTablesCarrySiteID(t *testing.T) {
	db := openDB(t, testdb.Postgres(t), "")
	var tables []struct {
		Name    string
		HasSite bool
	}
	err := db.Gorm().Raw(`SELECT c.relname AS name,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped) AS has_site
		FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')`).Scan(&tables).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 20 {
		t.Fatalf("only %d tables read", len(tables))
	}
	found := map[string]bool{}
	for _, tb := range tables {
		found[tb.Name] = true
		_, exempt := siteless[tb.Name]
		switch {
		case !tb.HasSite && !exempt:
			t.Errorf("table %s has no site_id: add it, or say in siteless why its rows belong to no site", tb.Name)
		case tb.HasSite && exempt:
			t.Errorf("table %s has a site_id now: take it off siteless", tb.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(siteless)) {
		if !found[name] {
			t.Errorf("siteless names %s, which is no table", name)
		}
	}

	var keys []string
	err = db.Gorm().Raw(`SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		WHERE i.indisunique AND c.relnamespace = current_schema()::regnamespace
			AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped)
			AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND a.attnum = ANY (i.indkey))`).
		Scan(&keys).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := shared[k]; !ok {
			t.Errorf("unique key %s of a site table does not hold site_id: include it, or list it in shared", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(shared)) {
		if !slices.Contains(keys, k) {
			t.Errorf("shared names %s, which is no longer a unique key without site_id: take it off", k)
		}
	}
}
