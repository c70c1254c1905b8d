package healing

import "github.com/shp-dev/shp/internal/config/spec"

// The names self_healing.yaml may use, registered so that internal/config
// checks them with the file, line and column of each (healing.ParsePolicy
// checks them again). The strategies are listed when asked, as init
// functions across the package register them in an order this one cannot
// rely on.
func init() {
	spec.RegisterFunc(spec.KindStrategy, strategySpecs)
	for _, c := range Categories {
		spec.Register(spec.Spec{Kind: spec.KindCategory, Name: string(c), Summary: "An issue category of the taxonomy."})
	}
}

// strategySpecs lists the strategies a policy may name: the stage and the
// rule strategies.
func strategySpecs() []spec.Spec {
	var out []spec.Spec
	for _, s := range StageStrategies() {
		out = append(out, spec.Spec{Kind: spec.KindStrategy, Name: s.Name(), Summary: "A stage strategy: how an object is read."})
	}
	for _, s := range Strategies() {
		out = append(out, spec.Spec{Kind: spec.KindStrategy, Name: s.Name(), Summary: "A rule strategy: a repair of staged rows."})
	}
	return out
}
