package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/strideapp/stride/app/internal/testdb"
	"github.com/strideapp/stride/app/internal/testkit"
	"github.com/strideapp/stride/app/store"
)

// A delivery whose id cannot be stored is quarantined under its content's hash, and never
// fails the deliveries that share its commit.
func TestBadIDFailsNoNeighbour(t *testing.T) {
	testkit.DBKinds(t, func(t *testing.T, dbURL string) {
		h := testkit.New(t, dbURL)
		school := h.School()
		now := h.Clock.Now()
		var wg sync.WaitGroup
		codes := make([]int, 200)
		for i := range codes {
			wg.Go(func() {
				id := fmt.Sprint("good-", i)
				if i%40 == 0 {
					id = fmt.Sprint("bad\u0000", i)
				}
				codes[i], _ = h.Deliver("school", testkit.LessonEventFor(id, testkit.PublishedGID, now, int64(i+1), 70, 700), testkit.ClientSecret)
			})
		}
		wg.Wait()
		for i, c := range codes {
			if c != 200 {
				t.Fatalf("delivery %d answered %d", i, c)
			}
		}
		counts, _ := h.DB.InboxCount(context.Background(), school.ID)
		if counts[store.StatusAccepted] != 195 || counts[store.StatusQuarantined] != 5 {
			t.Fatalf("inbox %v", counts)
		}
		if n := h.Count("SELECT COUNT(*) FROM inbox WHERE site_id = ? AND status = 'quarantined' AND event_id LIKE 'sha256:%'", school.ID); n != 5 {
			t.Fatalf("%d quarantined under their hash", n)
		}
	})
}

// If the inbox refuses one row of a group commit anyway, only that delivery fails.
func TestRefusedRowFailsOnlyItself(t *testing.T) {
	h := testkit.New(t, testdb.Postgres(t))
	h.School()
	g := h.DB.Gorm()
	for _, s := range []string{
		`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.event_id = 'refused' THEN RAISE EXCEPTION 'row refused' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse_row BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse_row()`,
	} {
		if err := g.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	now := h.Clock.Now()
	var wg sync.WaitGroup
	codes := make([]int, 300)
	for i := range codes {
		wg.Go(func() {
			id := fmt.Sprint("ok-", i)
			if i == 150 {
				id = "refused"
			}
			codes[i], _ = h.Deliver("school", testkit.LessonEventFor(id, testkit.PublishedGID, now, int64(i+1), 70, 700), testkit.ClientSecret)
		})
	}
	wg.Wait()
	for i, c := range codes {
		if want := map[bool]int{true: 503, false: 200}[i == 150]; c != want {
			t.Errorf("delivery %d answered %d, want %d", i, c, want)
		}
	}
}
