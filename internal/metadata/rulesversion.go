package metadata

import (
	"context"
	"fmt"
)

// RulesVersion identifies the stored quality rules of a pipeline as they
// stand. Stored rules are only ever added, never changed or deleted, so
// their count and their highest id change exactly when they do.
type RulesVersion struct {
	Count int64 // how many rules are stored
	MaxID int64 // the highest id among them; 0 when there is none
}

// VersionOf is the version of a listing of stored rules.
func VersionOf(rules []StoredRule) RulesVersion {
	v := RulesVersion{Count: int64(len(rules))}
	for _, r := range rules {
		v.MaxID = max(v.MaxID, r.ID)
	}
	return v
}

// RulesVersioner is a Store that tells the version of a pipeline's stored
// rules without reading them, so that a reader can keep the rules it
// parsed until they change.
type RulesVersioner interface {
	QualityRulesVersion(ctx context.Context, pipeline string) (RulesVersion, error)
}

var _ RulesVersioner = (*sqlStore)(nil)

// QualityRulesVersion implements RulesVersioner: one aggregate over the
// pipeline's rows, which reads no rule's body.
func (s *sqlStore) QualityRulesVersion(ctx context.Context, pipeline string) (RulesVersion, error) {
	var v RulesVersion
	err := s.queryRow(ctx, `SELECT count(*), coalesce(max(id), 0) FROM quality_rules WHERE pipeline = ?`, pipeline).Scan(&v.Count, &v.MaxID)
	if err != nil {
		return RulesVersion{}, fmt.Errorf("version of the quality rules of %s: %w", pipeline, err)
	}
	return v, nil
}
