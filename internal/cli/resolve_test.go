package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/service"
)

// escalatedDate runs the events project on a day whose dates all read
// both day-first and month-first: nothing is guessed, so every row is set
// aside and the run fails on max_quarantine_ratio, committing nothing. It
// returns the escalated action's id.
func escalatedDate(t *testing.T, dir string) int64 {
	t.Helper()
	writeDay(t, dir, "d1.csv", "id,day,seen_at,amount,city\n1,03/04/2026,2026-11-01 08:00:00,1,Bern\n2,05/06/2026,2026-11-01 09:00:00,2,Genf\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code == 0 {
		t.Fatalf("run with every date ambiguous should fail: %s %s", out, errOut)
	}
	for _, a := range actionsWithID(t, dir) {
		if a.Strategy == "parse_date_format" && a.Status == "escalated" {
			if !strings.Contains(a.Reason, `choose the layout with shp healing resolve ID --choose LAYOUT (%d/%m/%Y or %m/%d/%Y)`) {
				t.Fatalf("the escalation does not say how to resolve it: %s", a.Reason)
			}
			return a.ID
		}
	}
	t.Fatalf("no escalated parse_date_format: %+v", actionsWithID(t, dir))
	return 0
}

// actionByID returns one action as the CLI lists it.
func actionByID(t *testing.T, dir string, id int64) actionWithID {
	t.Helper()
	for _, a := range actionsWithID(t, dir) {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no action #%d", id)
	return actionWithID{}
}

// TestResolveAmbiguousDate: an escalated ambiguous date is resolved with
// one of the layouts it offers; the next run reads the column with it
// and loads the rows, the action shows resolved, and the choice is a
// labeled example. Other choices, a second resolution and approving an
// escalation are refused with what to do instead; a later value that the
// chosen layout does not read is not guessed.
func TestResolveAmbiguousDate(t *testing.T) {
	dir := eventsProject(t, allStage)
	id := escalatedDate(t, dir)
	sid := fmt.Sprint(id)
	code, out, _ := shp(t, "healing", "actions", "--config", dir, "--status", "escalated")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("options (shp healing resolve %d --choose OPTION --reason R):", id)) ||
		!strings.Contains(out, "%d/%m/%Y  day/month/year  03/04/2026 reads as 2026-04-03") || !strings.Contains(out, "%m/%d/%Y  month/day/year  03/04/2026 reads as 2026-03-04") {
		t.Fatalf("the listing does not show the options: %d %s", code, out)
	}

	code, _, errOut := shp(t, "healing", "approve", sid, "--config", dir)
	if code != 2 || !strings.Contains(errOut, "shp healing resolve ID --choose OPTION") {
		t.Fatalf("approve an escalation: %d %s", code, errOut)
	}
	code, _, errOut = shp(t, "healing", "resolve", sid, "--config", dir, "--choose", "%Y/%m/%d", "--reason", "guess")
	if want := fmt.Sprintf(`choice: "%%Y/%%m/%%d" is not one of the action's options #%d: choose "%%d/%%m/%%Y" (day/month/year) or "%%m/%%d/%%Y" (month/day/year)`, id); code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("a choice not offered: %d %s\nwant %s", code, errOut, want)
	}
	if code, _, errOut = shp(t, "healing", "resolve", sid, "--config", dir, "--choose", "%d/%m/%Y"); code != 2 || !strings.Contains(errOut, "--reason") {
		t.Fatalf("without a reason: %d %s", code, errOut)
	}
	if a := actionByID(t, dir, id); a.Status != "escalated" {
		t.Fatalf("a refused resolution changed the action: %+v", a)
	}

	code, out, errOut = shp(t, "healing", "resolve", sid, "--config", dir, "--choose", "Day/Month/Year", "--by", "ana", "--reason", "the feed is Swiss")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("action #%d resolved by ana: day/month/year (%%d/%%m/%%Y)", id)) ||
		!strings.Contains(out, "parse_date_format follows it on column day of pipeline events from the next run") {
		t.Fatalf("resolve: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = shp(t, "healing", "resolve", sid, "--config", dir, "--choose", "%d/%m/%Y", "--reason", "again"); code != 2 ||
		!strings.Contains(errOut, "is resolved: only an escalated action can be resolved") {
		t.Fatalf("a second resolution: %d %s", code, errOut)
	}

	code, out, errOut = shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "quarantined 0") {
		t.Fatalf("run after the resolution: %d\n%s\n%s", code, out, errOut)
	}
	if got := queryJSON(t, dir, "SELECT string_agg(id || ':' || day, ',' ORDER BY id) AS r FROM events"); got[0]["r"] != "1:2026-04-03,2:2026-06-05" {
		t.Fatalf("target: %v", got)
	}
	a := actionByID(t, dir, id)
	if a.Status != "resolved" || a.ApprovedBy != "ana" || !strings.Contains(a.Reason, "resolved by ana: the feed is Swiss") {
		t.Fatalf("resolved action: %+v", a)
	}
	applied := appliedID(t, dir, "parse_date_format")
	if b := actionByID(t, dir, applied); b.ApprovedBy != fmt.Sprintf("ana (choice in action #%d)", id) || !strings.Contains(b.Reason, "the layout a person chose for it") {
		t.Fatalf("applied action: %+v", b)
	}
	svc, err := openStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := svc.store.ListExamples(context.Background())
	svc.close()
	if err != nil || len(ex) != 1 || !strings.Contains(ex[0], `"category":"`+string(healing.DateFormat)+`"`) {
		t.Fatalf("the choice teaches the diagnosis: %v %v", ex, err)
	}

	// The next delivery reads the same way; a value the chosen layout
	// does not read is not guessed (12/25 is month-first).
	writeDay(t, dir, "d2.csv", "id,day,seen_at,amount,city\n3,07/08/2026,2026-11-02 08:00:00,3,Chur\n4,09/10/2026,2026-11-02 08:00:00,4,Thun\n")
	if code, out, errOut = shp(t, "run", "--config", dir); code != 0 || !strings.Contains(out, "quarantined 0") {
		t.Fatalf("next day: %d\n%s\n%s", code, out, errOut)
	}
	writeDay(t, dir, "d3.csv", "id,day,seen_at,amount,city\n5,12/25/2026,2026-11-03 08:00:00,5,Zug\n6,2026-11-03,2026-11-03 08:00:00,6,Bern\n")
	if code, out, errOut = shp(t, "run", "--config", dir); code != 0 || !strings.Contains(out, "quarantined 1") {
		t.Fatalf("a value against the choice: %d\n%s\n%s", code, out, errOut)
	}
	if got := queryJSON(t, dir, "SELECT string_agg(id || ':' || day, ',' ORDER BY id) AS r FROM events"); got[0]["r"] != "1:2026-04-03,2:2026-06-05,3:2026-08-07,4:2026-10-09,6:2026-11-03" {
		t.Fatalf("target: %v", got)
	}
	var against *actionWithID
	for _, a := range actionsWithID(t, dir) {
		if a.Status == "escalated" && strings.Contains(a.Reason, "values such as 12/25/2026 do not read as %d/%m/%Y, the layout a person chose for it") {
			against = &a
		}
	}
	if against == nil {
		t.Fatalf("no escalation of the value against the choice: %+v", actionsWithID(t, dir))
	}
}

// TestResolveCommittedEscalation: when the escalating run committed its
// other rows, resolve says where the set-aside rows are and how a full
// refresh reloads them with the choice.
func TestResolveCommittedEscalation(t *testing.T) {
	dir := eventsProject(t, allStage)
	writeDay(t, dir, "d1.csv", "id,day,seen_at,amount,city\n1,2026-11-01,2026-11-01 08:00:00,1,Bern\n2,03/04/2026,2026-11-01 08:00:00,2,Bern\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 || !strings.Contains(out, "quarantined 1") {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	var id int64
	for _, a := range actionsWithID(t, dir) {
		if a.Status == "escalated" && a.Strategy == "parse_date_format" {
			id = a.ID
		}
	}
	code, out, errOut := shp(t, "healing", "resolve", fmt.Sprint(id), "--config", dir, "--choose", "%m/%d/%Y", "--reason", "US feed")
	if code != 0 || !strings.Contains(out, "the rows it set aside stay in events__quarantine; shp run --full-refresh reloads its files with the choice") {
		t.Fatalf("resolve: %d %s %s", code, out, errOut)
	}
	if code, out, errOut = shp(t, "run", "--config", dir, "--full-refresh"); code != 0 || !strings.Contains(out, "quarantined 0") {
		t.Fatalf("full refresh: %d\n%s\n%s", code, out, errOut)
	}
	if got := queryJSON(t, dir, "SELECT string_agg(id || ':' || day, ',' ORDER BY id) AS r FROM events"); got[0]["r"] != "1:2026-11-01,2:2026-03-04" {
		t.Fatalf("target: %v", got)
	}
}

// TestResolveThroughTheAPI: the same loop through POST
// /api/v1/healing/actions/{id}/resolve: a viewer may not resolve, a
// choice not offered is a 400 naming the field, the operator's choice
// resolves the action, and the next run loads the rows with it.
func TestResolveThroughTheAPI(t *testing.T) {
	dir := eventsProject(t, allStage)
	id := escalatedDate(t, dir)
	svc, err := openStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s := svc.service()
	keys := map[service.Role]string{}
	for _, r := range []service.Role{service.Viewer, service.Operator} {
		if keys[r], _, err = s.CreateKey(context.Background(), string(r), r, 0, "test"); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer((&api.Server{Service: s, Config: s.Project.Config.API}).Handler())
	resolve := func(role service.Role, body string) (int, string) {
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/healing/actions/%d/resolve", srv.URL, id), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keys[role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := resolve(service.Viewer, `{"choice": "%d/%m/%Y", "reason": "r"}`); code != 403 {
		t.Fatalf("a viewer resolves: %d %s", code, body)
	}
	if code, body := resolve(service.Operator, `{"choice": "%d-%m-%Y", "reason": "r"}`); code != 400 || !strings.Contains(body, `"field":"choice"`) {
		t.Fatalf("a choice not offered: %d %s", code, body)
	}
	code, body := resolve(service.Operator, `{"choice": "%m/%d/%Y", "reason": "US feed"}`)
	var a service.ActionView
	if code != 200 || json.Unmarshal([]byte(body), &a) != nil || a.Status != "resolved" || !strings.HasPrefix(a.ApprovedBy, "key:") ||
		!strings.Contains(string(a.Params), `"choice":"%m/%d/%Y"`) {
		t.Fatalf("resolve: %d %s", code, body)
	}
	audit, err := svc.store.ListAudit(context.Background(), 0)
	srv.Close()
	svc.close()
	if err != nil || len(audit) != 3 || audit[0].Path != fmt.Sprintf("/api/v1/healing/actions/%d/resolve", id) || audit[0].Status != 200 || audit[2].Status != 403 {
		t.Fatalf("every resolution is audited, refused ones too: %+v %v", audit, err)
	}
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 || !strings.Contains(out, "quarantined 0") {
		t.Fatalf("run after the resolution: %d\n%s\n%s", code, out, errOut)
	}
	if got := queryJSON(t, dir, "SELECT string_agg(id || ':' || day, ',' ORDER BY id) AS r FROM events"); got[0]["r"] != "1:2026-03-04,2:2026-05-06" {
		t.Fatalf("target: %v", got)
	}
}
