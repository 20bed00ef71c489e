package goq

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRepeated checks the in-place sort and the repeats it finds against
// a plain sort and a count, on spread hashes and on skewed ones (every
// non-ASCII order number hashes to 0; shared top bytes fill one bucket).
func TestRepeated(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]uint64{"empty": nil, "one": {7}}
	spread := make([]uint64, 200_000)
	for i := range spread {
		spread[i] = r.Uint64()
	}
	for i := 0; i < 50; i++ { // planted repeats
		spread[r.IntN(len(spread))] = spread[r.IntN(len(spread))]
	}
	cases["spread"] = spread
	skewed := make([]uint64, 100_000)
	for i := range skewed {
		switch i % 3 {
		case 0:
			skewed[i] = nonASCIIOrder
		case 1:
			skewed[i] = 0xAB<<56 | r.Uint64()>>40 // one top byte, few distinct
		default:
			skewed[i] = r.Uint64()
		}
	}
	cases["skewed"] = skewed
	small := []uint64{3, 1, 3, 2, 1 << 60, 1 << 60, 0}
	cases["small"] = small
	for name, hs := range cases {
		want := slices.Clone(hs)
		slices.Sort(want)
		n := map[uint64]int{}
		for _, h := range hs {
			n[h]++
		}
		wantDup := map[uint64]struct{}{}
		for h, c := range n {
			if c > 1 {
				wantDup[h] = struct{}{}
			}
		}
		got := slices.Clone(hs)
		dup := repeated(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: not sorted", name)
		}
		if !maps.Equal(dup, wantDup) {
			t.Errorf("%s: %d repeated hashes, want %d", name, len(dup), len(wantDup))
		}
	}
}
