package healing

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
)

// Example is one labeled issue.
type Example struct {
	Issue    Issue    `json:"issue"`
	Category Category `json:"category"`
	// Origin says where it comes from: hand, injected or feedback.
	Origin string `json:"origin,omitempty"`
}

// Model is a multinomial naive Bayes classifier over issue tokens, with
// Laplace smoothing and a temperature and a ceiling that calibrate its
// confidences.
type Model struct {
	Version     int                             `json:"version"`
	Priors      map[Category]float64            `json:"priors"` // log P(c)
	Likelihoods map[Category]map[string]float64 `json:"likelihoods"`
	Unseen      map[Category]float64            `json:"unseen"` // log P(unseen token | c)
	// Temperature divides the log-posteriors before normalising: naive
	// Bayes is overconfident, and a temperature fitted on held-out data
	// makes its confidence match its accuracy.
	Temperature float64 `json:"temperature"`
	// Ceiling is the highest confidence the model reports: the accuracy
	// that its held-out diagnoses of 0.9 or more support (see Calibrate),
	// never above MaxModelConfidence. A stored model without one reads
	// MaxModelConfidence.
	Ceiling float64 `json:"ceiling,omitempty"`
}

// MaxModelConfidence bounds every confidence the model reports: a model
// reading words is never surer than a signature reading an error code.
const MaxModelConfidence = signatureConfidence

// uncalibrated is the ceiling of a model whose confidences are measured
// as they come (before calibration).
const uncalibrated = 1.0

// ceiling is the confidence the model's answers stop at.
func (m *Model) ceiling() float64 {
	if m.Ceiling <= 0 || m.Ceiling > MaxModelConfidence && m.Ceiling != uncalibrated {
		return MaxModelConfidence
	}
	return m.Ceiling
}

// Train fits a model.
func Train(examples []Example) (*Model, error) {
	if len(examples) == 0 {
		return nil, fmt.Errorf("no examples to train on")
	}
	counts := map[Category]map[string]float64{}
	totals := map[Category]float64{}
	docs := map[Category]float64{}
	vocab := map[string]bool{}
	for _, ex := range examples {
		if !ex.Category.Valid() {
			return nil, fmt.Errorf("example %q: category %q is not in the taxonomy", truncate(ex.Issue.Text, 60), ex.Category)
		}
		docs[ex.Category]++
		if counts[ex.Category] == nil {
			counts[ex.Category] = map[string]float64{}
		}
		for _, t := range tokens(ex.Issue) {
			counts[ex.Category][t]++
			totals[ex.Category]++
			vocab[t] = true
		}
	}
	m := &Model{Priors: map[Category]float64{}, Likelihoods: map[Category]map[string]float64{}, Unseen: map[Category]float64{},
		Temperature: 1, Ceiling: MaxModelConfidence}
	v := float64(len(vocab))
	n := float64(len(examples))
	const alpha = 0.5
	for c, d := range docs {
		m.Priors[c] = math.Log(d / n)
		denom := totals[c] + alpha*v
		m.Likelihoods[c] = map[string]float64{}
		for t, k := range counts[c] {
			m.Likelihoods[c][t] = math.Log((k + alpha) / denom)
		}
		m.Unseen[c] = math.Log(alpha / denom)
	}
	return m, nil
}

// scores are the categories' log-posteriors (up to a constant).
func (m *Model) scores(is Issue) map[Category]float64 {
	toks := tokens(is)
	out := make(map[Category]float64, len(m.Priors))
	for c, prior := range m.Priors {
		s := prior
		for _, t := range toks {
			if l, ok := m.Likelihoods[c][t]; ok {
				s += l
			} else {
				s += m.Unseen[c]
			}
		}
		out[c] = s
	}
	return out
}

// probabilities normalises scores at a temperature.
func probabilities(scores map[Category]float64, temperature float64) map[Category]float64 {
	maxS := math.Inf(-1)
	for _, s := range scores {
		maxS = math.Max(maxS, s)
	}
	var z float64
	out := make(map[Category]float64, len(scores))
	for _, c := range Categories { // in a fixed order: the same sum every time
		s, ok := scores[c]
		if !ok {
			continue
		}
		p := math.Exp((s - maxS) / temperature)
		out[c] = p
		z += p
	}
	for c := range out {
		out[c] /= z
	}
	return out
}

// Predict diagnoses an issue.
func (m *Model) Predict(is Issue) Diagnosis {
	probs := probabilities(m.scores(is), m.Temperature)
	type cp struct {
		c Category
		p float64
	}
	var ranked []cp
	for c, p := range probs {
		ranked = append(ranked, cp{c, p})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].p != ranked[j].p {
			return ranked[i].p > ranked[j].p
		}
		return ranked[i].c < ranked[j].c
	})
	d := Diagnosis{Category: ranked[0].c, Confidence: math.Min(ranked[0].p, m.ceiling()), By: fmt.Sprintf("model v%d", m.Version)}
	if len(ranked) > 1 {
		d.RunnerUp, d.RunnerUpConfidence = ranked[1].c, ranked[1].p
	}
	return d
}

// minCalibration is the fewest held-out examples the model decides that
// calibration fits on; with fewer, it fits on every held-out example.
const minCalibration = 20

// modelDecided are the examples no signature decides: those whose
// confidence the model reports.
func modelDecided(examples []Example) []Example {
	var out []Example
	for _, ex := range examples {
		if _, ok := Signature(WithEvidence(ex.Issue)); !ok {
			out = append(out, ex)
		}
	}
	return out
}

// Calibrate fits the model's confidence to its accuracy on held-out
// examples (temperature scaling): the temperature is the one, between
// 1/8 and 64 in steps of 2^(1/32), that minimises the log loss of the
// held-out examples the model decides (all of them when fewer than 20 are
// left to it). The ceiling is then the Laplace-smoothed accuracy of the
// held-out diagnoses at 0.9 or more, (right+1)/(n+2), between 0.9 and
// MaxModelConfidence: what the evidence supports, so that no confidence
// reads 0.99999999. The same examples give the same calibration.
func (m *Model) Calibrate(heldOut []Example) {
	fit := modelDecided(heldOut)
	if len(fit) < minCalibration {
		fit = heldOut
	}
	if len(fit) == 0 {
		m.Temperature, m.Ceiling = 1, MaxModelConfidence
		return
	}
	scores := make([]map[Category]float64, len(fit))
	for i, ex := range fit {
		scores[i] = m.scores(WithEvidence(ex.Issue))
	}
	best, bestLoss := 1.0, math.Inf(1)
	for step := -3 * 32; step <= 6*32; step++ {
		t := math.Exp2(float64(step) / 32)
		var loss float64
		for i, ex := range fit {
			p := probabilities(scores[i], t)[ex.Category]
			loss -= math.Log(math.Max(p, 1e-12))
		}
		if loss < bestLoss-1e-12 {
			best, bestLoss = t, loss
		}
	}
	m.Temperature = best
	var n, right int
	for i, ex := range fit {
		c, p := top(probabilities(scores[i], best))
		if p >= 0.9 {
			n++
			if c == ex.Category {
				right++
			}
		}
	}
	// Not below 0.9: a ceiling under the bin it is measured on would rank
	// the surest answers below less sure ones.
	m.Ceiling = math.Min(MaxModelConfidence, math.Max(0.9, float64(right+1)/float64(n+2)))
}

// top is the most probable category (the first by name among equals).
func top(probs map[Category]float64) (Category, float64) {
	var best Category
	bp := -1.0
	for c, p := range probs {
		if p > bp || p == bp && c < best {
			best, bp = c, p
		}
	}
	return best, bp
}

// Split puts about one example in five into the held-out set, by a hash of
// its text, so the split is the same on every run.
func Split(examples []Example) (train, heldOut []Example) {
	for _, ex := range examples {
		h := fnv.New32a()
		h.Write([]byte(string(ex.Category) + "|" + ex.Issue.Text))
		if h.Sum32()%5 == 0 {
			heldOut = append(heldOut, ex)
		} else {
			train = append(train, ex)
		}
	}
	return train, heldOut
}

// Marshal and UnmarshalModel store a model as JSON.
func (m *Model) Marshal() ([]byte, error) { return json.Marshal(m) }

// UnmarshalModel reads a model stored by Marshal.
func UnmarshalModel(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	if m.Temperature <= 0 {
		m.Temperature = 1
	}
	if m.Ceiling <= 0 || m.Ceiling > MaxModelConfidence {
		m.Ceiling = MaxModelConfidence // stored before models had a ceiling
	}
	return &m, nil
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
