package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/notify"
	"github.com/shp-dev/shp/internal/service"
)

func newAlertsCmd(e *env) *cobra.Command {
	var dir, outFormat, state, pipelineName, by, comment, status string
	var limit int
	var matchers []string
	var lasting time.Duration
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Alerts, the incidents they are correlated into, silences and notifications (monitoring.yaml)",
		Long: `alerts shows what the monitoring component found: each alert rule's condition on a
pipeline (firing, pending, resolved), the incidents that group alerts of one cause (a source
down, a run, a failure upstream), the notifications sent to receivers, and silences.
shp serve evaluates the rules and sends notifications; shp alerts evaluate does one cycle.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List alerts (--state firing|pending|resolved, --pipeline)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var page service.Page[service.AlertView]
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				page, err = s.Alerts(cmd.Context(), service.AlertQuery{State: state, Pipeline: pipelineName, PageRequest: service.PageRequest{PageSize: limit}})
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, page.Items)
			}
			t := newTable(e.stdout, "STATE", "SEVERITY", "RULE", "PIPELINE", "SINCE", "INCIDENT", "SUMMARY")
			for _, a := range page.Items {
				since := ""
				if a.ActiveAt != nil {
					since = a.ActiveAt.Format(time.RFC3339)
				}
				t.row(a.State, a.Severity, a.Rule, termSafe(a.Pipeline), since, a.IncidentID, termSafe(a.Summary))
			}
			t.flush()
			return nil
		},
	}
	list.Flags().StringVar(&state, "state", "", "only alerts in this state: firing, pending or resolved")
	list.Flags().StringVarP(&pipelineName, "pipeline", "p", "", "only this pipeline's alerts")

	incidents := &cobra.Command{
		Use:   "incidents",
		Short: "List incidents, newest first (--state open|resolved)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var page service.Page[service.IncidentView]
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				page, err = s.Incidents(cmd.Context(), service.IncidentQuery{State: state, PageRequest: service.PageRequest{PageSize: limit}})
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, page.Items)
			}
			t := newTable(e.stdout, "ID", "STATE", "SEVERITY", "ALERTS", "OPENED", "ACKED BY", "CAUSE", "TITLE")
			for _, in := range page.Items {
				t.row(in.ID, in.State, in.Severity, in.Alerts, in.OpenedAt.Format(time.RFC3339), termSafe(in.AckedBy), termSafe(in.Cause), termSafe(in.Title))
			}
			t.flush()
			return nil
		},
	}
	incidents.Flags().StringVar(&state, "state", "", "only incidents in this state: open or resolved")

	show := &cobra.Command{
		Use:   "show INCIDENT",
		Short: "Show an incident: its alerts and its notifications",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in service.IncidentView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				in, err = s.Incident(cmd.Context(), args[0])
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, in)
			}
			fmt.Fprintf(e.stdout, "incident %s  %s  %s  opened %s\n", in.ID, in.State, in.Severity, in.OpenedAt.Format(time.RFC3339))
			fmt.Fprintf(e.stdout, "  cause: %s\n  title: %s\n", termSafe(in.Cause), termSafe(in.Title))
			if in.AckedAt != nil {
				fmt.Fprintf(e.stdout, "  acknowledged by %s at %s\n", termSafe(in.AckedBy), in.AckedAt.Format(time.RFC3339))
			}
			if in.ResolvedAt != nil {
				fmt.Fprintf(e.stdout, "  resolved at %s\n", in.ResolvedAt.Format(time.RFC3339))
			}
			fmt.Fprintf(e.stdout, "alerts (%d):\n", len(in.Members))
			t := newTable(e.stdout, "  STATE", "SEVERITY", "RULE", "PIPELINE", "RUN", "SUMMARY")
			for _, a := range in.Members {
				summary := a.Summary
				if up := a.Labels["inhibited_by"]; up != "" {
					summary += " (a symptom of " + up + " upstream)"
				}
				t.row("  "+a.State, a.Severity, a.Rule, termSafe(a.Pipeline), a.RunID, termSafe(summary))
			}
			t.flush()
			fmt.Fprintf(e.stdout, "notifications (%d):\n", len(in.Notifications))
			for _, n := range in.Notifications {
				line := fmt.Sprintf("  %s  %s  %s  attempts %d", n.Status, termSafe(n.Receiver), n.ID, n.Attempts)
				if n.LastError != "" {
					line += "  last error: " + termSafe(n.LastError)
				}
				fmt.Fprintln(e.stdout, line)
			}
			return nil
		},
	}

	ack := &cobra.Command{
		Use:   "ack INCIDENT",
		Short: "Acknowledge an open incident: it is not notified again until it is resolved",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			who := whoDecides(by)
			var in service.IncidentView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				in, err = s.AckIncident(cmd.Context(), args[0], who)
				return err
			}); err != nil {
				return serviceErr(err)
			}
			fmt.Fprintf(e.stdout, "incident %s acknowledged by %s\n", in.ID, termSafe(who))
			return nil
		},
	}
	ack.Flags().StringVar(&by, "by", "", "who acknowledges (default: $USER)")

	silence := &cobra.Command{
		Use:   `silence --match 'pipeline="orders"' [--match ...] --for 2h`,
		Short: "Silence the alerts whose labels match every matcher, for a while",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			who := whoDecides(by)
			var s service.SilenceView
			if err := withService(cmd.Context(), dir, func(svc *service.Service) (err error) {
				s, err = svc.Silence(cmd.Context(), service.SilenceRequest{Matchers: matchers, Duration: lasting, Comment: comment}, who)
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, s)
			}
			fmt.Fprintf(e.stdout, "silence %s until %s: %s\n", s.ID, s.EndsAt.Format(time.RFC3339), termSafe(strings.Join(s.Matchers, ", ")))
			return nil
		},
	}
	silence.Flags().StringArrayVar(&matchers, "match", nil, `a label matcher: name="value", name!="value", name=~"regex" or name!~"regex" (labels: pipeline, source, severity, alertname, kind...)`)
	silence.Flags().DurationVar(&lasting, "for", 2*time.Hour, "how long the silence lasts")
	silence.Flags().StringVar(&comment, "comment", "", "why")
	silence.Flags().StringVar(&by, "by", "", "who silences (default: $USER)")

	silences := &cobra.Command{
		Use:   "silences",
		Short: "List the silences that have not ended",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []service.SilenceView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				list, err = s.Silences(cmd.Context())
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, list)
			}
			t := newTable(e.stdout, "ID", "UNTIL", "BY", "MATCHERS", "COMMENT")
			for _, s := range list {
				t.row(s.ID, s.EndsAt.Format(time.RFC3339), termSafe(s.CreatedBy), termSafe(strings.Join(s.Matchers, ", ")), termSafe(s.Comment))
			}
			t.flush()
			return nil
		},
	}

	unsilence := &cobra.Command{
		Use:   "unsilence SILENCE",
		Short: "End a silence now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := withService(cmd.Context(), dir, func(s *service.Service) error { return s.Unsilence(cmd.Context(), args[0]) }); err != nil {
				return serviceErr(err)
			}
			fmt.Fprintf(e.stdout, "silence %s ended\n", args[0])
			return nil
		},
	}

	notifications := &cobra.Command{
		Use:   "notifications",
		Short: "List the notifications of the outbox, newest first (--status pending|sent|failed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var list []service.NotificationView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				list, err = s.Notifications(cmd.Context(), status, limit)
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, list)
			}
			t := newTable(e.stdout, "STATUS", "RECEIVER", "ATTEMPTS", "CREATED", "INCIDENT", "LAST ERROR")
			for _, n := range list {
				t.row(n.Status, termSafe(n.Receiver), n.Attempts, n.CreatedAt.Format(time.RFC3339), n.IncidentID, termSafe(n.LastError))
			}
			t.flush()
			return nil
		},
	}
	notifications.Flags().StringVar(&status, "status", "", "only notifications with this status: pending, sent or failed")

	evaluate := &cobra.Command{
		Use:   "evaluate",
		Short: "Evaluate the alert rules once, correlate, and send the notifications due (what shp serve does every evaluation_interval)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(dir)
			if err != nil {
				return err
			}
			svc, err := openServices(cmd.Context(), p, what{store: true, log: e.logger()})
			if err != nil {
				return err
			}
			defer svc.close()
			eng, err := monitor.NewEngine(p, svc.store, nil, e.logger(), notify.Options{})
			if err != nil {
				return failedErr(err)
			}
			eng.Owner = "shp-alerts-evaluate"
			rep, err := eng.Evaluate(cmd.Context())
			if err != nil {
				return failedErr(err)
			}
			del, err := eng.Deliver(cmd.Context())
			if err != nil {
				return failedErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, map[string]any{"evaluation": rep, "delivery": del})
			}
			fmt.Fprintf(e.stdout, "%d condition(s) hold; %d alert(s) fired, %d resolved; %d incident(s) opened, %d resolved; "+
				"%d notification(s) queued, %d held back by silences; %d sent, %d to retry, %d failed\n",
				rep.Conditions, rep.Fired, rep.Resolved, rep.Opened, rep.Closed, rep.Queued, rep.Suppressed, del.Sent, del.Retried, del.Failed)
			return nil
		},
	}

	for _, c := range []*cobra.Command{list, incidents, show, ack, silence, silences, unsilence, notifications, evaluate} {
		c.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
		switch c {
		case list, incidents, show, silence, silences, notifications, evaluate:
			c.Flags().StringVar(&outFormat, "format", "text", "output format: text or json")
		}
		switch c {
		case list, incidents, notifications:
			c.Flags().IntVar(&limit, "limit", service.DefaultPageSize, "at most this many")
		}
		cmd.AddCommand(c)
	}
	return cmd
}
