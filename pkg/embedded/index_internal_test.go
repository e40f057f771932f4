package embedded

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// IndexIDs leaves exactly one index per collection table: FerretDB's
// unique `_id` index, now on the expression its queries use.
func TestIndexIDsLeavesOneIndex(t *testing.T) {
	s, err := Start(t.Context(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 { // a second run (a restart) keeps it so
		if err := s.IndexIDs(t.Context(), "one", []string{"docs"}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.sqliteDir, "one.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'docs%' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		got = append(got, def)
	}
	if len(got) != 1 || got[0] != `CREATE UNIQUE INDEX "`+tableOf(t, db)+`__id_" ON "`+tableOf(t, db)+`" (_ferretdb_sjson->'$._id')` {
		t.Fatalf("indexes of the collection table: %q, want FerretDB's unique _id index on the queried expression only", got)
	}
}

func tableOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var table string
	if err := db.QueryRowContext(t.Context(), `SELECT table_name FROM "_ferretdb_collections" WHERE name = 'docs'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	return table
}
