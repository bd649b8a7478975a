package pairing

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkMatch(b *testing.B) {
	halves, _ := Journey(rand.New(rand.NewPCG(1, 2)), 200, t0)
	b.ReportMetric(float64(len(halves)), "halves")
	for b.Loop() {
		Match(halves, DefaultWindow)
	}
}

// One chained cluster of 2,000 halves: the most a single re-match should see.
func BenchmarkMatchCluster2000(b *testing.B) {
	halves := denseCluster(rand.New(rand.NewPCG(3, 4)), 2000)
	for b.Loop() {
		Match(halves, DefaultWindow)
	}
}
