package postgres

import (
	"context"
	"os"
	"strings"
	"testing"

	"larder/fault"
	"larder/internal/pgtest"
	"larder/store"
	"larder/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openTest opens a store on a new database of its own, closed when tb ends.
func openTest(tb testing.TB) store.Store {
	tb.Helper()
	s, err := Open(context.Background(), pgtest.URL(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the store conformance suite on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, openTest)
}

// TestOpen_MigratesOnceAndReopens: a second store on the same database (a
// restarted broker, or another one) finds the schema there and the data.
func TestOpen_MigratesOnceAndReopens(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	s, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateApp(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, u)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if apps, err := s2.Apps(ctx); err != nil || len(apps) != 1 {
		t.Fatalf("apps after reopen = %v, %v; want web", apps, err)
	}
	var n int
	if err := s2.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	files, _ := migrations.ReadDir("migrations")
	if n != len(files) {
		t.Fatalf("%d migrations recorded, want %d", n, len(files))
	}
}

// TestOpen_BadURLs: a URL that is no PostgreSQL one is Invalid, and no
// error ever shows the password.
func TestOpen_BadURLs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, url string
		kind      fault.Kind
	}{
		{"not a URL", "postgres://us er:s3cret-pw@%zz/db", fault.Invalid},
		{"other scheme", "mysql://root:s3cret-pw@localhost/db", fault.Invalid},
		{"no host", "postgres:///db?password=s3cret-pw", fault.Invalid},
		{"bad option", "postgres://root:s3cret-pw@127.0.0.1:1/db?sslmode=sometimes", fault.Invalid},
		{"nobody listens", "postgres://root:s3cret-pw@127.0.0.1:1/db?connect_timeout=2", fault.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("error shows the password: %v", err)
			}
			if got := fault.KindOf(err); got != tc.kind {
				t.Fatalf("kind %v, want %v (%v)", got, tc.kind, err)
			}
		})
	}
}

func BenchmarkListAddons(b *testing.B) { storetest.BenchmarkListAddons(b, openTest) }

func BenchmarkClaimPorts(b *testing.B) { storetest.BenchmarkClaimPorts(b, openTest) }

// TestMigrationsMirrorSQLite: every SQLite migration has its PostgreSQL
// twin under the same name (version), so both stores hold one schema.
func TestMigrationsMirrorSQLite(t *testing.T) {
	lite, err := os.ReadDir("../sqlite/migrations")
	if err != nil {
		t.Fatal(err)
	}
	pg, _ := migrations.ReadDir("migrations")
	names := map[string]bool{}
	for _, f := range pg {
		names[f.Name()] = true
	}
	for _, f := range lite {
		if !names[f.Name()] {
			t.Errorf("SQLite migration %s has no PostgreSQL twin in store/postgres/migrations", f.Name())
		}
		delete(names, f.Name())
	}
	for n := range names {
		t.Errorf("PostgreSQL migration %s has no SQLite twin", n)
	}
}
