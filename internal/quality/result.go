package quality

import "encoding/json"

// Result is a validation result in Great Expectations' layout.
type Result struct {
	Success    bool                `json:"success"`
	Results    []ExpectationResult `json:"results"`
	Statistics Statistics          `json:"statistics"`
	Meta       map[string]any      `json:"meta"`
}

// Statistics summarise a validation.
type Statistics struct {
	Evaluated      int     `json:"evaluated_expectations"`
	Successful     int     `json:"successful_expectations"`
	Unsuccessful   int     `json:"unsuccessful_expectations"`
	SuccessPercent float64 `json:"success_percent"`
}

// ExpectationResult is one expectation's outcome.
type ExpectationResult struct {
	Success   bool           `json:"success"`
	Config    ConfigJSON     `json:"expectation_config"`
	Result    map[string]any `json:"result"`
	Exception ExceptionInfo  `json:"exception_info"`

	rowFilter string // the failing rows, as SQL with placeholders
	rowArgs   []any
}

// Waive marks a failed expectation as met by other means, with a note in
// its result ("waived"): it succeeds, and its failing rows are no longer
// a row filter, so no rule action moves them.
func (er *ExpectationResult) Waive(note string) {
	er.Success = true
	er.rowFilter, er.rowArgs = "", nil
	if er.Result == nil {
		er.Result = map[string]any{}
	}
	er.Result["waived"] = note
}

// RowFilter returns, for a row-level expectation, an SQL predicate (with
// the dialect's placeholders numbered from 1) true for its failing rows.
func (er ExpectationResult) RowFilter() (pred string, args []any, ok bool) {
	return er.rowFilter, er.rowArgs, er.rowFilter != ""
}

// UnexpectedCount returns the result's unexpected_count, 0 when the
// expectation does not count failing rows.
func (er ExpectationResult) UnexpectedCount() int64 {
	return toInt(er.Result["unexpected_count"])
}

// ConfigJSON is an expectation's configuration as GE 1.x prints it.
type ConfigJSON struct {
	Type   string         `json:"type"`
	Kwargs map[string]any `json:"kwargs"`
	Meta   map[string]any `json:"meta"`
}

// ExceptionInfo tells whether an expectation raised instead of running.
type ExceptionInfo struct {
	Raised    bool    `json:"raised_exception"`
	Message   string  `json:"exception_message"`
	Traceback *string `json:"exception_traceback"`
}

// MarshalJSON writes GE's layout: a null message when nothing was raised.
func (e ExceptionInfo) MarshalJSON() ([]byte, error) {
	var msg *string
	if e.Message != "" {
		msg = &e.Message
	}
	return json.Marshal(struct {
		Raised    bool    `json:"raised_exception"`
		Message   *string `json:"exception_message"`
		Traceback *string `json:"exception_traceback"`
	}{e.Raised, msg, e.Traceback})
}

func configJSON(c Config) ConfigJSON {
	meta := c.Meta
	if meta == nil {
		meta = map[string]any{}
	}
	return ConfigJSON{Type: c.Type, Kwargs: c.Kwargs, Meta: meta}
}

func (r *Result) add(er ExpectationResult) {
	r.Results = append(r.Results, er)
	r.Statistics.Evaluated++
	if er.Success {
		r.Statistics.Successful++
	} else {
		r.Statistics.Unsuccessful++
		r.Success = false
	}
	r.Statistics.SuccessPercent = 100 * float64(r.Statistics.Successful) / float64(r.Statistics.Evaluated)
}

// trimResult drops what the result format does not show.
func trimResult(m map[string]any, f ResultFormat) map[string]any {
	if m == nil || f == BooleanOnly {
		return map[string]any{}
	}
	if f != Complete {
		delete(m, "unexpected_list")
		delete(m, "unexpected_index_list")
	}
	if f == Basic {
		delete(m, "partial_unexpected_index_list")
		delete(m, "partial_unexpected_counts")
	}
	return m
}
