package quality

import (
	"math"
)

// Statistics for the distributional expectations, matching what SciPy
// computes for Great Expectations.

// entropy is SciPy's stats.entropy(pk, qk): the Kullback-Leibler divergence
// of qk from pk after both are normalised to sum to one. It is +Inf where
// pk has mass and qk has none, NaN when pk has no mass at all.
func entropy(pk, qk []float64) float64 {
	var sp, sq float64
	for i := range pk {
		sp += pk[i]
		sq += qk[i]
	}
	if sp == 0 || sq == 0 {
		return math.NaN()
	}
	var kl float64
	for i := range pk {
		p, q := pk[i]/sp, qk[i]/sq
		switch {
		case p == 0:
		case q == 0:
			return math.Inf(1)
		default:
			kl += p * math.Log(p/q)
		}
	}
	return kl
}

// ksStatistic is the two-sided one-sample Kolmogorov-Smirnov statistic of
// sorted values against a cumulative distribution function.
func ksStatistic(sorted []float64, cdf func(float64) float64) float64 {
	n := float64(len(sorted))
	var d float64
	for i, x := range sorted {
		f := cdf(x)
		d = math.Max(d, math.Max(float64(i+1)/n-f, f-float64(i)/n))
	}
	return d
}

// ksPValue is the two-sided p-value of the one-sample KS statistic d for n
// values: exact (Marsaglia, Tsang and Wang, 2003) up to 2000 values, as
// SciPy's kstest computes it, and the Kolmogorov limit distribution with
// Stephens' correction beyond.
func ksPValue(n int, d float64) float64 {
	if n <= 0 || math.IsNaN(d) {
		return math.NaN()
	}
	if d <= 0 {
		return 1
	}
	if d >= 1 {
		return 0
	}
	if n > 2000 {
		sn := math.Sqrt(float64(n))
		return kolmogorovQ((sn + 0.12 + 0.11/sn) * d)
	}
	return clamp01(1 - kolmogorovCDF(n, d))
}

// kolmogorovQ is the survival function of Kolmogorov's limit distribution.
func kolmogorovQ(lambda float64) float64 {
	if lambda < 0.2 {
		return 1
	}
	var sum float64
	sign := 1.0
	for j := 1; j <= 100; j++ {
		term := sign * math.Exp(-2*float64(j*j)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-16 {
			break
		}
		sign = -sign
	}
	return clamp01(2 * sum)
}

// kolmogorovCDF is P(D_n < d), by the matrix method of Marsaglia, Tsang
// and Wang ("Evaluating Kolmogorov's distribution", JSS 8(18), 2003).
func kolmogorovCDF(n int, d float64) float64 {
	nf := float64(n)
	s := d * d * nf
	if s > 7.24 || (s > 3.76 && n > 99) {
		return 1 - 2*math.Exp(-(2.000071+0.331/math.Sqrt(nf)+1.409/nf)*s)
	}
	k := int(nf*d) + 1
	m := 2*k - 1
	h := float64(k) - nf*d
	H := make([]float64, m*m)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if i-j+1 >= 0 {
				H[i*m+j] = 1
			}
		}
	}
	for i := 0; i < m; i++ {
		H[i*m] -= math.Pow(h, float64(i+1))
		H[(m-1)*m+i] -= math.Pow(h, float64(m-i))
	}
	if 2*h-1 > 0 {
		H[(m-1)*m] += math.Pow(2*h-1, float64(m))
	}
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if i-j+1 > 0 {
				for g := 1; g <= i-j+1; g++ {
					H[i*m+j] /= float64(g)
				}
			}
		}
	}
	Q, eQ := matPower(H, 0, m, n)
	v := Q[(k-1)*m+k-1]
	for i := 1; i <= n; i++ {
		v = v * float64(i) / nf
		if v < 1e-140 {
			v *= 1e140
			eQ -= 140
		}
	}
	return v * math.Pow(10, float64(eQ))
}

func matMul(a, b []float64, m int) []float64 {
	c := make([]float64, m*m)
	for i := 0; i < m; i++ {
		for k := 0; k < m; k++ {
			aik := a[i*m+k]
			if aik == 0 {
				continue
			}
			for j := 0; j < m; j++ {
				c[i*m+j] += aik * b[k*m+j]
			}
		}
	}
	return c
}

// matPower raises a (with decimal exponent ea) to the n-th power, keeping
// the entries in range by moving powers of ten into the exponent.
func matPower(a []float64, ea, m, n int) ([]float64, int) {
	if n == 1 {
		out := make([]float64, len(a))
		copy(out, a)
		return out, ea
	}
	v, ev := matPower(a, ea, m, n/2)
	b := matMul(v, v, m)
	eb := 2 * ev
	if n%2 == 0 {
		v, ev = b, eb
	} else {
		v, ev = matMul(a, b, m), ea+eb
	}
	if v[(m/2)*m+m/2] > 1e140 {
		for i := range v {
			v[i] *= 1e-140
		}
		ev += 140
	}
	return v, ev
}

func clamp01(x float64) float64 {
	return math.Min(1, math.Max(0, x))
}
