package healing

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// ClassMetrics are one category's scores on the held-out set.
type ClassMetrics struct {
	Category  Category `json:"category"`
	Support   int      `json:"support"`
	Precision float64  `json:"precision"`
	Recall    float64  `json:"recall"`
	F1        float64  `json:"f1"`
	// SuggestedThreshold is the lowest confidence at which this
	// category's diagnoses on the held-out set were right at least
	// ThresholdPrecision of the time (over ThresholdMinSupport of them or
	// more); 0 when no confidence gets there, and actions should wait
	// for approval.
	SuggestedThreshold float64 `json:"suggested_threshold,omitempty"`
}

// The bar for a suggested confidence threshold.
const (
	ThresholdPrecision  = 0.95
	ThresholdMinSupport = 5
)

// prediction is one held-out diagnosis: its confidence and whether it
// was right.
type prediction struct {
	confidence float64
	right      bool
}

// suggestThreshold finds the lowest confidence above which the
// predictions reach ThresholdPrecision, counting tied confidences together.
func suggestThreshold(preds []prediction) float64 {
	sort.Slice(preds, func(i, j int) bool { return preds[i].confidence > preds[j].confidence })
	best, right := 0.0, 0
	for i, p := range preds {
		if p.right {
			right++
		}
		n := i + 1
		if n < len(preds) && preds[i+1].confidence == p.confidence {
			continue
		}
		if n >= ThresholdMinSupport && float64(right)/float64(n) >= ThresholdPrecision {
			best = math.Floor(p.confidence*100) / 100
		}
	}
	return best
}

// Bin is one confidence bin of the calibration table.
type Bin struct {
	From, To       float64
	Count          int
	MeanConfidence float64
	Accuracy       float64
}

// Evaluation is a model's report on held-out examples.
type Evaluation struct {
	Examples    int            `json:"examples"`
	Accuracy    float64        `json:"accuracy"`
	MacroF1     float64        `json:"macro_f1"`
	ECE         float64        `json:"ece"` // expected calibration error
	BySignature float64        `json:"by_signature"`
	Classes     []ClassMetrics `json:"classes"`
	Bins        []Bin          `json:"calibration"`
}

// Evaluate diagnoses each held-out example (signatures first, as in
// production) and scores the diagnoses.
func Evaluate(m *Model, heldOut []Example) Evaluation {
	type counts struct{ tp, fp, fn, support int }
	per := map[Category]*counts{}
	for _, c := range Categories {
		per[c] = &counts{}
	}
	bins := make([]Bin, 10)
	for i := range bins {
		bins[i].From, bins[i].To = float64(i)/10, float64(i+1)/10
	}
	ev := Evaluation{Examples: len(heldOut)}
	correct, bySig := 0, 0
	predicted := map[Category][]prediction{}
	for _, ex := range heldOut {
		d := Diagnose(ex.Issue, m)
		per[ex.Category].support++
		ok := d.Category == ex.Category
		predicted[d.Category] = append(predicted[d.Category], prediction{d.Confidence, ok})
		if ok {
			correct++
			per[ex.Category].tp++
		} else {
			per[ex.Category].fn++
			if per[d.Category] != nil {
				per[d.Category].fp++
			}
		}
		if strings.HasPrefix(d.By, "signature") {
			bySig++
		}
		b := int(math.Min(9, d.Confidence*10))
		bins[b].Count++
		bins[b].MeanConfidence += d.Confidence
		if ok {
			bins[b].Accuracy++
		}
	}
	if len(heldOut) == 0 {
		return ev
	}
	ev.Accuracy = float64(correct) / float64(len(heldOut))
	ev.BySignature = float64(bySig) / float64(len(heldOut))
	var f1Sum float64
	var classes int
	for _, c := range Categories {
		k := per[c]
		if k.support == 0 && k.fp == 0 {
			continue
		}
		m := ClassMetrics{Category: c, Support: k.support, SuggestedThreshold: suggestThreshold(predicted[c])}
		if k.tp+k.fp > 0 {
			m.Precision = float64(k.tp) / float64(k.tp+k.fp)
		}
		if k.tp+k.fn > 0 {
			m.Recall = float64(k.tp) / float64(k.tp+k.fn)
		}
		if m.Precision+m.Recall > 0 {
			m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
		}
		ev.Classes = append(ev.Classes, m)
		if k.support > 0 {
			f1Sum += m.F1
			classes++
		}
	}
	if classes > 0 {
		ev.MacroF1 = f1Sum / float64(classes)
	}
	for i := range bins {
		if bins[i].Count > 0 {
			bins[i].MeanConfidence /= float64(bins[i].Count)
			bins[i].Accuracy /= float64(bins[i].Count)
			ev.ECE += float64(bins[i].Count) / float64(len(heldOut)) * math.Abs(bins[i].Accuracy-bins[i].MeanConfidence)
			ev.Bins = append(ev.Bins, bins[i])
		}
	}
	sort.Slice(ev.Classes, func(i, j int) bool { return ev.Classes[i].Category < ev.Classes[j].Category })
	return ev
}

// Better reports whether e beats the other evaluation: a higher macro F1,
// or the same with a lower calibration error.
func (e Evaluation) Better(other Evaluation) bool {
	const eps = 1e-6 // differences of float rounding are not improvements
	if math.Abs(e.MacroF1-other.MacroF1) > eps {
		return e.MacroF1 > other.MacroF1
	}
	return e.ECE < other.ECE-eps
}

func thresholdText(t float64) string {
	if t == 0 {
		return "approval"
	}
	return fmt.Sprintf("%.2f", t)
}

// WriteComparison writes how precision and recall per category moved from
// the previous model to this one, both scored on the same held-out set.
func (e Evaluation) WriteComparison(w io.Writer, version int, prev Evaluation, prevVersion int) {
	fmt.Fprintf(w, "\n## Against v%d on the same held-out set\n\nmacro F1 %.3f -> %.3f, accuracy %.1f%% -> %.1f%%.\n\n",
		prevVersion, prev.MacroF1, e.MacroF1, 100*prev.Accuracy, 100*e.Accuracy)
	before := map[Category]ClassMetrics{}
	for _, c := range prev.Classes {
		before[c.Category] = c
	}
	fmt.Fprintf(w, "| category | precision v%d | precision v%d | change | recall v%d | recall v%d |\n|---|---:|---:|---:|---:|---:|\n",
		prevVersion, version, prevVersion, version)
	for _, c := range e.Classes {
		b := before[c.Category]
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %+.2f | %.2f | %.2f |\n", c.Category, b.Precision, c.Precision, c.Precision-b.Precision, b.Recall, c.Recall)
	}
}

// WriteReport writes the evaluation as a Markdown report.
func (e Evaluation) WriteReport(w io.Writer, title string) {
	fmt.Fprintf(w, "# %s\n\n", title)
	fmt.Fprintf(w, "%d held-out examples: accuracy %.1f%%, macro F1 %.3f, expected calibration error %.3f; %.0f%% decided by signatures.\n\n",
		e.Examples, 100*e.Accuracy, e.MacroF1, e.ECE, 100*e.BySignature)
	fmt.Fprintf(w, "| category | support | precision | recall | F1 | suggested threshold |\n|---|---:|---:|---:|---:|---:|\n")
	for _, c := range e.Classes {
		fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.2f | %s |\n", c.Category, c.Support, c.Precision, c.Recall, c.F1, thresholdText(c.SuggestedThreshold))
	}
	fmt.Fprintf(w, "\nA suggested threshold is the lowest confidence at which a category's diagnoses were right %.0f%% of the time (over %d or more); \"approval\" means none was, so its actions should wait for a person.\n",
		100*ThresholdPrecision, ThresholdMinSupport)
	fmt.Fprintf(w, "\nCalibration (confidence bins):\n\n| confidence | examples | mean confidence | accuracy |\n|---|---:|---:|---:|\n")
	for _, b := range e.Bins {
		fmt.Fprintf(w, "| %.1f–%.1f | %d | %.2f | %.2f |\n", b.From, b.To, b.Count, b.MeanConfidence, b.Accuracy)
	}
}
