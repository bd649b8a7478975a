package store

import (
	"cmp"
	"context"
	"slices"
)

// TableSize is the room one table takes: its rows, its data and its indexes, in bytes.
type TableSize struct {
	Table      string
	Rows       int64
	TableBytes int64 // PostgreSQL: pg_table_size (heap, TOAST, free space and visibility maps)
	IndexBytes int64 // PostgreSQL: pg_indexes_size
}

// Total is pg_total_relation_size: the table with its indexes.
func (t TableSize) Total() int64 { return t.TableBytes + t.IndexBytes }

// TableSizes measures every table of the schema, largest first. Rows are counted exactly.
// On PostgreSQL sizes are the relation files' (space freed by deletes stays in them until
// reused; VACUUM makes it reusable); on SQLite they come from the dbstat table, and are 0
// when the SQLite build has none.
func (db *DB) TableSizes(ctx context.Context) ([]TableSize, error) {
	var sizes []TableSize
	g := db.reader(ctx)
	var err error
	if db.Postgres() {
		err = g.Raw(`SELECT c.relname AS "table", pg_table_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes
			FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relname <> 'goose_db_version'`).
			Scan(&sizes).Error
	} else {
		err = g.Raw(`SELECT name AS "table" FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`).
			Scan(&sizes).Error
		if err == nil {
			err = db.sqliteSizes(ctx, sizes)
		}
	}
	if err != nil {
		return nil, dbError(err, "table sizes")
	}
	for i := range sizes {
		// The table names come from the catalog, not from input.
		if err := g.Raw(`SELECT count(*) FROM "` + sizes[i].Table + `"`).Scan(&sizes[i].Rows).Error; err != nil {
			return nil, dbError(err, sizes[i].Table)
		}
	}
	slices.SortFunc(sizes, func(a, b TableSize) int {
		return cmp.Or(cmp.Compare(b.Total(), a.Total()), cmp.Compare(a.Table, b.Table))
	})
	return sizes, nil
}

// sqliteSizes fills in the bytes of each table and of its indexes from dbstat, when this
// SQLite has it.
func (db *DB) sqliteSizes(ctx context.Context, sizes []TableSize) error {
	var pages []struct {
		Table string
		Index bool
		Bytes int64
	}
	err := db.reader(ctx).Raw(`SELECT m.tbl_name AS "table", m.type = 'index' AS "index", SUM(s.pgsize) AS bytes
		FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name, m.type = 'index'`).Scan(&pages).Error
	if err != nil {
		return nil // no dbstat in this build: rows only
	}
	for i := range sizes {
		for _, p := range pages {
			switch {
			case p.Table != sizes[i].Table:
			case p.Index:
				sizes[i].IndexBytes = p.Bytes
			default:
				sizes[i].TableBytes = p.Bytes
			}
		}
	}
	return nil
}

// Vacuum makes the space of deleted rows reusable, as autovacuum does in time: a plain
// VACUUM on PostgreSQL, which leaves the files their size but for empty pages at their
// end. SQLite reuses freed pages without it (its VACUUM rewrites the whole file), so there
// it does nothing.
func (db *DB) Vacuum(ctx context.Context) error {
	if !db.Postgres() {
		return nil
	}
	return dbError(db.write(ctx).Exec("VACUUM").Error, "vacuum")
}
