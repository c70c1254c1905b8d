package healing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/metadata"
)

// injectedPerTemplate is how many examples each fault-injection template
// gives.
const injectedPerTemplate = 6

// Corpus is every labeled example: hand-labeled, injected, and the
// feedback recorded in the store.
func Corpus(ctx context.Context, store ModelStore) ([]Example, error) {
	hand, err := HandLabeled()
	if err != nil {
		return nil, err
	}
	out := append(hand, Injected(injectedPerTemplate)...)
	if store == nil {
		return out, nil
	}
	feedback, err := store.ListExamples(ctx)
	if err != nil {
		return nil, err
	}
	for i, f := range feedback {
		var ex Example
		if err := json.Unmarshal([]byte(f), &ex); err != nil {
			return nil, fmt.Errorf("feedback example %d is not a labeled example: %w", i+1, err)
		}
		if !ex.Category.Valid() {
			return nil, fmt.Errorf("feedback example %d has an unknown category %q", i+1, ex.Category)
		}
		ex.Origin = "feedback"
		out = append(out, ex)
	}
	return out, nil
}

// TrainResult is what a training did.
type TrainResult struct {
	Version    int         `json:"version"`
	Promoted   bool        `json:"promoted"`
	Reason     string      `json:"reason"`
	Train      int         `json:"train_examples"`
	HeldOut    int         `json:"held_out_examples"`
	New        Evaluation  `json:"new"`
	Current    *Evaluation `json:"current,omitempty"`
	CurrentVer int         `json:"current_version,omitempty"`
}

// TrainAndPromote trains a model on the corpus, evaluates it and the
// active model on the same held-out set, stores the new one, and makes it
// active only if it is better.
func TrainAndPromote(ctx context.Context, store ModelStore) (*TrainResult, error) {
	all, err := Corpus(ctx, store)
	if err != nil {
		return nil, err
	}
	train, held := Split(all)
	m, err := Train(train)
	if err != nil {
		return nil, err
	}
	m.Calibrate(held)
	res := &TrainResult{Train: len(train), HeldOut: len(held), New: Evaluate(m, held)}
	current, found, err := ActiveModel(ctx, store)
	if err != nil {
		return nil, err
	}
	res.Promoted = true
	res.Reason = "no active model"
	if found {
		ev := Evaluate(current, held)
		res.Current, res.CurrentVer = &ev, current.Version
		res.Promoted = res.New.Better(ev)
		if res.Promoted {
			res.Reason = fmt.Sprintf("macro F1 %.3f beats v%d's %.3f", res.New.MacroF1, current.Version, ev.MacroF1)
		} else {
			res.Reason = fmt.Sprintf("macro F1 %.3f does not beat v%d's %.3f; v%d stays active", res.New.MacroF1, current.Version, ev.MacroF1, current.Version)
		}
	}
	metrics, _ := json.Marshal(res.New)
	body, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if res.Version, err = store.SaveModel(ctx, metadata.HealingModel{Metrics: string(metrics), Model: string(body), Active: res.Promoted}); err != nil {
		return nil, err
	}
	return res, nil
}

// ActiveModel loads the store's active model.
func ActiveModel(ctx context.Context, store ModelSource) (*Model, bool, error) {
	stored, found, err := store.ActiveModel(ctx)
	if err != nil || !found {
		return nil, false, err
	}
	m, err := decodeStored(stored)
	return m, err == nil, err
}

// ModelVersion loads one stored model version.
func ModelVersion(ctx context.Context, store ModelStore, version int) (*Model, error) {
	stored, err := store.GetModel(ctx, version)
	if err != nil {
		return nil, err
	}
	return decodeStored(stored)
}

func decodeStored(stored metadata.HealingModel) (*Model, error) {
	m, err := UnmarshalModel([]byte(stored.Model))
	if err != nil {
		return nil, fmt.Errorf("model v%d: %w", stored.Version, err)
	}
	m.Version = stored.Version
	return m, nil
}

// LoadModel returns the store's active model or, while the project has
// not trained one, a model trained on the built-in corpus's training
// split and calibrated on its held-out split, as shp healing train does
// (version 0, not stored; a few milliseconds).
func LoadModel(ctx context.Context, store ModelSource) (*Model, error) {
	m, found, err := ActiveModel(ctx, store)
	if err != nil || found {
		return m, err
	}
	corpus, err := Corpus(ctx, nil)
	if err != nil {
		return nil, err
	}
	train, held := Split(corpus)
	if m, err = Train(train); err != nil {
		return nil, fmt.Errorf("train the built-in model: %w", err)
	}
	m.Calibrate(held)
	return m, nil
}

// HeldOut is the corpus's held-out set, and its hand-labeled part.
func HeldOut(ctx context.Context, store ModelStore) (all, hand []Example, err error) {
	corpus, err := Corpus(ctx, store)
	if err != nil {
		return nil, nil, err
	}
	_, all = Split(corpus)
	for _, ex := range all {
		if ex.Origin == "hand" || ex.Origin == "feedback" {
			hand = append(hand, ex)
		}
	}
	return all, hand, nil
}

// ParseCategory reads a category name, for the CLI.
func ParseCategory(s string) (Category, error) {
	c := Category(strings.ToLower(strings.TrimSpace(s)))
	if !c.Valid() {
		var names []string
		for _, k := range Categories {
			names = append(names, string(k))
		}
		return "", fmt.Errorf("category %q is not in the taxonomy (%s)", s, strings.Join(names, ", "))
	}
	return c, nil
}
