package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// TestDashboards checks that there is one Grafana dashboard per daemon, that each is a
// dashboard Grafana imports (schema version, unique uid and panel ids, panels placed, PromQL
// targets), and that every metric a panel reads is one the daemon exports.
func TestDashboards(t *testing.T) {
	names := exported(t)
	uids := map[string]string{}
	for _, d := range daemons {
		file := filepath.Join("grafana", d+".json")
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("daemon %s: no dashboard: %v", d, err)
			continue
		}
		var db dashboard
		if err := json.Unmarshal(raw, &db); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if db.SchemaVersion < 36 || db.Title == "" || db.UID == "" {
			t.Errorf("%s: schemaVersion %d, title %q, uid %q: want schemaVersion >= 36, a title and a uid", file, db.SchemaVersion, db.Title, db.UID)
		}
		if other, dup := uids[db.UID]; dup {
			t.Errorf("%s: uid %q also used by %s", file, db.UID, other)
		}
		uids[db.UID] = file
		if len(db.Panels) < 4 {
			t.Errorf("%s: %d panels, want the daemon's main metrics", file, len(db.Panels))
		}
		ids := map[int]bool{}
		for _, p := range db.Panels {
			if ids[p.ID] || p.ID == 0 {
				t.Errorf("%s: panel %q: id %d is 0 or repeated", file, p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "" || p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("%s: panel %d: type %q, title %q, gridPos %v: want all set", file, p.ID, p.Type, p.Title, p.GridPos)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
			for _, tg := range p.Targets {
				refs := metricRef.FindAllString(tg.Expr, -1)
				if tg.RefID == "" || len(refs) == 0 {
					t.Errorf("%s: panel %q: target %q (refId %q) reads no daemon metric", file, p.Title, tg.Expr, tg.RefID)
				}
				for _, m := range refs {
					if !known(names, m) {
						t.Errorf("%s: panel %q: metric %s is exported by no daemon", file, p.Title, m)
					}
				}
			}
		}
	}
}
