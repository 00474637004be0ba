//go:build !windows

package web_test

import (
	"testing"

	"github.com/ringside/ringside/internal/cluster/clustertest"
	"github.com/ringside/ringside/internal/config"
)

// TestAdminPeopleAPIPostgres: the people and tokens API on a server whose store is a
// fresh PostgreSQL database (RINGSIDE_TEST_POSTGRES_DSN).
func TestAdminPeopleAPIPostgres(t *testing.T) {
	dsn := clustertest.PostgresDB(t)
	ts, stop, done, err := launch(t.TempDir(), func(c *config.Config) {
		c.Store.Driver, c.Store.DSN = "postgres", dsn
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); <-done })
	peopleAPI(t, ts, "pg")
}
