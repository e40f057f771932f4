package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// IndexIDs makes `_id` lookups of FerretDB v1.24 (SQLite backend) use an
// index. FerretDB pushes an `{_id: value}` filter down as
// `WHERE _ferretdb_sjson->'$._id' = ?` (find, update) or `… IN (…)`
// (delete), but the unique index it creates is on the expression
// `_ferretdb_sjson->"_id"`; SQLite matches index expressions syntactically, so
// that index only enforces uniqueness and every lookup, update and delete by
// `_id` scans the table. IndexIDs creates the collections (if missing) and
// replaces, directly in the SQLite file, FerretDB's unique `_id` index by a
// unique index of the same name on the exact expression the queries use: the
// same uniqueness (FerretDB reports a violation of any unique index as a
// duplicate `_id`), and one index to maintain per write instead of two (an
// earlier version added a second index; under W1 every insert and delete
// paid for both). FerretDB's metadata still names the index `_id_`, and it
// drops it with the collection.
func (s *Stack) IndexIDs(ctx context.Context, database string, collections []string) error {
	client, err := mongo.Connect(options.Client().ApplyURI(s.mongoURI))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	db := client.Database(database)
	for _, c := range collections {
		if err := db.CreateCollection(ctx, c); err != nil {
			var ce mongo.CommandError
			if !errors.As(err, &ce) || ce.Name != "NamespaceExists" {
				return fmt.Errorf("create collection %s: %w", c, err)
			}
		}
	}
	// Immediate transactions: a deferred one that reads the schema and then
	// writes fails at once with SQLITE_BUSY, without waiting, when a
	// service wrote in between (seen when devstack restarted under load).
	sdb, err := sql.Open("sqlite", "file:"+filepath.Join(s.sqliteDir, database+".sqlite")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer sdb.Close()
	rows, err := sdb.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return fmt.Errorf("list ferretdb tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			_ = rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	_ = rows.Close()
	for _, t := range tables {
		done, err := indexedByID(ctx, sdb, t)
		if err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
		if done {
			continue // a restart: nothing to write while the services do
		}
		// One transaction per table: uniqueness is enforced throughout.
		stmts := []string{
			fmt.Sprintf(`DROP INDEX IF EXISTS %q`, t+"_jobplane_id_expr"), // the earlier, second index
			fmt.Sprintf(`DROP INDEX IF EXISTS %q`, t+"__id_"),
			fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->'$._id')`, t+"__id_", t),
		}
		if err := inTx(ctx, sdb, stmts); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
	}
	return nil
}

// indexedByID reports whether table t already has IndexIDs' index and not
// the earlier second one.
func indexedByID(ctx context.Context, db *sql.DB, t string) (bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`, t)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	ours := false
	for rows.Next() {
		var name string
		var def sql.NullString
		if err := rows.Scan(&name, &def); err != nil {
			return false, err
		}
		switch name {
		case t + "_jobplane_id_expr":
			return false, nil
		case t + "__id_":
			ours = strings.Contains(def.String, `_ferretdb_sjson->'$._id'`)
		}
	}
	return ours, rows.Err()
}

func inTx(ctx context.Context, db *sql.DB, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}
