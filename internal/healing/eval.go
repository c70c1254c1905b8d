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

// Reliability is how well a set of diagnoses' confidences match their
// accuracy: the expected calibration error over 10 equal-width bins (the
// examples' share of each bin times the gap between its accuracy and its
// mean confidence, summed) and the bins that hold examples.
type Reliability struct {
	Examples int     `json:"examples"` // diagnoses measured
	Accuracy float64 `json:"accuracy"` // the share that was right
	ECE      float64 `json:"ece"`      // expected calibration error
	Bins     []Bin   `json:"bins"`     // the bins that hold diagnoses, by confidence
}

// reliability bins predictions by confidence.
func reliability(preds []prediction) Reliability {
	bins := make([]Bin, 10)
	for i := range bins {
		bins[i].From, bins[i].To = float64(i)/10, float64(i+1)/10
	}
	r := Reliability{Examples: len(preds)}
	for _, p := range preds {
		b := int(math.Min(9, math.Max(0, p.confidence*10)))
		bins[b].Count++
		bins[b].MeanConfidence += p.confidence
		if p.right {
			bins[b].Accuracy++
			r.Accuracy++
		}
	}
	if len(preds) == 0 {
		return r
	}
	r.Accuracy /= float64(len(preds))
	for i := range bins {
		if bins[i].Count > 0 {
			bins[i].MeanConfidence /= float64(bins[i].Count)
			bins[i].Accuracy /= float64(bins[i].Count)
			r.ECE += float64(bins[i].Count) / float64(len(preds)) * math.Abs(bins[i].Accuracy-bins[i].MeanConfidence)
			r.Bins = append(r.Bins, bins[i])
		}
	}
	return r
}

// CalibrationReport compares the confidences of the held-out diagnoses
// before calibration (temperature 1, no ceiling) and after (the model's
// temperature and ceiling), for all diagnoses and for the model's own
// (those no signature decides, whose confidence calibration changes).
type CalibrationReport struct {
	Temperature float64 `json:"temperature"` // the model's
	Ceiling     float64 `json:"ceiling"`     // the highest confidence the model reports
	// Before and After are all diagnoses, signatures included.
	Before Reliability `json:"before"`
	After  Reliability `json:"after"`
	// ModelBefore and ModelAfter are the model's own diagnoses.
	ModelBefore Reliability `json:"model_before"`
	ModelAfter  Reliability `json:"model_after"`
	// ModelCrossFitted are the model's own diagnoses with the temperature
	// and ceiling fitted on the other half of the held-out set (its
	// examples alternate between the halves): calibration measured on
	// examples it was not fitted on.
	ModelCrossFitted Reliability `json:"model_cross_fitted"`
}

// Evaluation is a model's report on held-out examples.
type Evaluation struct {
	Examples    int            `json:"examples"`
	Accuracy    float64        `json:"accuracy"`
	MacroF1     float64        `json:"macro_f1"`
	ECE         float64        `json:"ece"` // expected calibration error of the diagnoses as reported
	BySignature float64        `json:"by_signature"`
	Classes     []ClassMetrics `json:"classes"`
	Bins        []Bin          `json:"calibration"`
	// Calibration is the expected calibration error and the reliability
	// table before and after calibration.
	Calibration CalibrationReport `json:"calibration_report"`
}

// calibrationReport measures m's confidences on the held-out examples
// before and after calibration, and cross-fitted.
func calibrationReport(m *Model, heldOut []Example) CalibrationReport {
	raw := *m
	raw.Temperature, raw.Ceiling = 1, uncalibrated
	measure := func(m *Model, exs []Example) (all, own []prediction) {
		for _, ex := range exs {
			d := Diagnose(ex.Issue, m)
			p := prediction{d.Confidence, d.Category == ex.Category}
			all = append(all, p)
			if !strings.HasPrefix(d.By, "signature") {
				own = append(own, p)
			}
		}
		return all, own
	}
	rep := CalibrationReport{Temperature: m.Temperature, Ceiling: m.ceiling()}
	all, own := measure(&raw, heldOut)
	rep.Before, rep.ModelBefore = reliability(all), reliability(own)
	all, own = measure(m, heldOut)
	rep.After, rep.ModelAfter = reliability(all), reliability(own)
	decided := modelDecided(heldOut)
	var halves [2][]Example
	for i, ex := range decided {
		halves[i%2] = append(halves[i%2], ex)
	}
	var crossed []prediction
	for i := range halves {
		fitted := *m
		fitted.Calibrate(halves[1-i])
		_, own := measure(&fitted, halves[i])
		crossed = append(crossed, own...)
	}
	rep.ModelCrossFitted = reliability(crossed)
	return rep
}

// Evaluate diagnoses each held-out example (signatures first, as in
// production) and scores the diagnoses.
func Evaluate(m *Model, heldOut []Example) Evaluation {
	type counts struct{ tp, fp, fn, support int }
	per := map[Category]*counts{}
	for _, c := range Categories {
		per[c] = &counts{}
	}
	ev := Evaluation{Examples: len(heldOut)}
	var reported []prediction
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
		reported = append(reported, prediction{d.Confidence, ok})
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
	rel := reliability(reported)
	ev.ECE, ev.Bins = rel.ECE, rel.Bins
	if m != nil {
		ev.Calibration = calibrationReport(m, heldOut)
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
	c := e.Calibration
	fmt.Fprintf(w, "\n## Calibration\n\n")
	fmt.Fprintf(w, "The model's confidences are calibrated by temperature scaling on the held-out examples that no signature decides: "+
		"temperature %.2f minimises their log loss, and no model confidence exceeds %.3f, the Laplace-smoothed accuracy of the held-out diagnoses "+
		"at 0.9 or more (never above %.2f, a signature's confidence). Signatures keep their fixed confidences (0.90 to 0.99). "+
		"Expected calibration error (ECE) over 10 equal-width confidence bins, before calibration (temperature 1, no ceiling) and after:\n\n",
		c.Temperature, c.Ceiling, MaxModelConfidence)
	fmt.Fprintf(w, "| diagnoses | examples | accuracy | ECE before | ECE after |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| all, as reported (signatures and model) | %d | %.1f%% | %.3f | %.3f |\n", c.After.Examples, 100*c.After.Accuracy, c.Before.ECE, c.After.ECE)
	fmt.Fprintf(w, "| the model's own | %d | %.1f%% | %.3f | %.3f |\n", c.ModelAfter.Examples, 100*c.ModelAfter.Accuracy, c.ModelBefore.ECE, c.ModelAfter.ECE)
	fmt.Fprintf(w, "| the model's own, cross-fitted | %d | %.1f%% | %.3f | %.3f |\n", c.ModelCrossFitted.Examples, 100*c.ModelCrossFitted.Accuracy, c.ModelBefore.ECE, c.ModelCrossFitted.ECE)
	fmt.Fprintf(w, "\nCross-fitted: the temperature and ceiling fitted on one half of the model's held-out examples (they alternate between the halves) "+
		"and measured on the other, both ways; calibration measured on examples it was not fitted on.\n")
	if c.ModelAfter.ECE > c.ModelBefore.ECE {
		topBefore := Bin{}
		for _, b := range c.ModelBefore.Bins {
			if b.From >= 0.9-1e-9 {
				topBefore = b
			}
		}
		fmt.Fprintf(w, "\nHere calibration raises the ECE: before it, the model's top bin said %.3f on average and was right %.1f%% of the time, "+
			"on held-out examples that mostly resemble their training siblings, so its gap was small. It is on messages unlike the corpus "+
			"(a new connector's wording) that a confidence of 0.99999999 misleads, and no held-out set of this corpus measures those. "+
			"The temperature and the ceiling give up that small gap for confidences that leave room for error; %s.\n",
			topBefore.MeanConfidence, 100*topBefore.Accuracy, eceTarget(c.ModelAfter.ECE))
	}
	writeReliability(w, "Reliability of all diagnoses, as reported", c.Before, c.After)
	writeReliability(w, "Reliability of the model's own diagnoses", c.ModelBefore, c.ModelAfter)
}

// ECETarget is the expected calibration error calibration aims at.
const ECETarget = 0.05

func eceTarget(ece float64) string {
	if ece <= ECETarget {
		return fmt.Sprintf("the ECE stays within the %.2f target", ECETarget)
	}
	return fmt.Sprintf("the ECE misses the %.2f target", ECETarget)
}

// writeReliability writes the bins before and after calibration side by
// side.
func writeReliability(w io.Writer, title string, before, after Reliability) {
	fmt.Fprintf(w, "\n%s (confidence bins; a bin's accuracy is the share of its diagnoses that were right):\n\n", title)
	fmt.Fprintf(w, "| confidence | before: examples | mean confidence | accuracy | after: examples | mean confidence | accuracy |\n|---|---:|---:|---:|---:|---:|---:|\n")
	byFrom := func(r Reliability) map[int]Bin {
		out := map[int]Bin{}
		for _, b := range r.Bins {
			out[int(math.Round(b.From*10))] = b
		}
		return out
	}
	bb, ab := byFrom(before), byFrom(after)
	cell := func(b Bin, ok bool) string {
		if !ok {
			return "0 | – | –"
		}
		return fmt.Sprintf("%d | %.3f | %.3f", b.Count, b.MeanConfidence, b.Accuracy)
	}
	for i := 0; i < 10; i++ {
		b, okB := bb[i]
		a, okA := ab[i]
		if !okB && !okA {
			continue
		}
		fmt.Fprintf(w, "| %.1f–%.1f | %s | %s |\n", float64(i)/10, float64(i+1)/10, cell(b, okB), cell(a, okA))
	}
}
