package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/shp-dev/shp/internal/service"
)

// newAPIKeyCmd is shp apikey: keys for services that call the REST API.
func newAPIKeyCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list and revoke API keys for the REST API",
	}
	var name, role, by, outFormat string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create --name N --role viewer|operator|admin [--expires 720h]",
		Short: "Create an API key; it is shown once and stored only as a hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := service.ParseRole(role)
			if err != nil {
				return usageErr(err)
			}
			var key string
			var k service.APIKeyView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				key, k, err = s.CreateKey(cmd.Context(), name, r, expires, whoDecides(by))
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, map[string]any{"key": key, "api_key": k})
			}
			fmt.Fprintln(e.stdout, key)
			exp := "never"
			if k.ExpiresAt != nil {
				exp = k.ExpiresAt.Format(time.RFC3339)
			}
			fmt.Fprintf(e.stderr, "api key %s (%s, role %s, expires %s): shown once; send it as Authorization: Bearer <key>\n", k.ID, k.Name, k.Role, exp)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	create.Flags().DurationVar(&expires, "expires", 0, "how long the key is valid, e.g. 720h (default: no expiry)")
	create.Flags().StringVar(&by, "by", "", "who creates it (default: $USER)")
	create.Flags().StringVar(&outFormat, "format", "text", "output format: text or json")

	var listFormat string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(listFormat, "table", "json"); err != nil {
				return err
			}
			var keys []service.APIKeyView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				keys, err = s.Keys(cmd.Context())
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if listFormat == "json" {
				return writeJSON(e.stdout, keys)
			}
			t := newTable(e.stdout, "ID", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED", "STATE")
			when := func(p *time.Time) string {
				if p == nil {
					return "-"
				}
				return p.Format(time.RFC3339)
			}
			for _, k := range keys {
				state := "active"
				switch {
				case k.Revoked != nil:
					state = "revoked"
				case k.ExpiresAt != nil && !time.Now().Before(*k.ExpiresAt):
					state = "expired"
				}
				t.row(k.ID, k.Name, string(k.Role), k.CreatedAt.Format(time.RFC3339), when(k.ExpiresAt), when(k.LastUsed), state)
			}
			t.flush()
			return nil
		},
	}
	list.Flags().StringVar(&listFormat, "format", "table", "output format: table or json")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := withService(cmd.Context(), dir, func(s *service.Service) error { return s.RevokeKey(cmd.Context(), args[0]) }); err != nil {
				return serviceErr(err)
			}
			fmt.Fprintf(e.stdout, "api key %s revoked\n", args[0])
			return nil
		},
	}
	cmd.PersistentFlags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// newAuditCmd is shp audit: the latest writes through the REST API.
func newAuditCmd(e *env) *cobra.Command {
	var dir, outFormat, anonymous string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The latest writes through the REST API: who, their role, what, when, from where",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(outFormat, "table", "json"); err != nil {
				return err
			}
			var es []service.AuditView
			if err := withService(cmd.Context(), dir, func(s *service.Service) (err error) {
				es, err = s.Audit(cmd.Context(), service.AuditQuery{Anonymous: anonymous, Limit: limit})
				return err
			}); err != nil {
				return serviceErr(err)
			}
			if outFormat == "json" {
				return writeJSON(e.stdout, es)
			}
			t := newTable(e.stdout, "AT", "WHO", "ROLE", "REQUEST", "STATUS", "FROM", "COUNT")
			for _, a := range es {
				status := strconv.Itoa(a.Status)
				if a.Reason != "" {
					status += " (" + a.Reason + ")"
				}
				count := strconv.Itoa(a.Count)
				if a.LastAt != nil {
					count += " until " + a.LastAt.Format(time.RFC3339)
				}
				t.row(a.At.Format(time.RFC3339), a.Principal, a.Role, a.Method+" "+a.Path, status, a.Remote, count)
			}
			t.flush()
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "config", "c", ".", "project config folder")
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "at most this many, newest first")
	cmd.Flags().StringVar(&anonymous, "anonymous", service.AnonymousExclude,
		"refused anonymous requests (aggregated by address and reason): exclude, include or only")
	cmd.Flags().StringVar(&outFormat, "format", "table", "output format: table or json")
	return cmd
}
