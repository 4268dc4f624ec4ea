package ui

import (
	"reflect"
	"testing"
)

func vals(vs ...float64) []*float64 {
	out := make([]*float64, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

func TestChart(t *testing.T) {
	gap := []*float64{nil}
	tests := []struct {
		name       string
		cols       []*float64
		height     int
		top, limit float64
		want       []string
	}{
		{"sparkline scales to the largest", vals(0, 4, 8), 1, 0, 0, []string{" ▄█"}},
		{"a gap stays blank", append(vals(8), gap...), 1, 0, 0, []string{"█ "}},
		{"all zero is a floor", vals(0, 0), 1, 0, 0, []string{"▁▁"}},
		{"limit marked above low bars", vals(1, 2), 2, 10, 10, []string{"┄┄", "▂▃"}},
		{"tiny values still show", vals(0.001, 100), 1, 0, 0, []string{"▁█"}},
	}
	for _, tt := range tests {
		if got := Chart(tt.cols, tt.height, tt.top, tt.limit); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Chart = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestResample(t *testing.T) {
	got := Resample([]int64{0, 10, 20, 30}, vals(1, 3, 5, 7), 2)
	if len(got) != 2 || got[0] == nil || got[1] == nil || *got[0] != 2 || *got[1] != 6 {
		t.Fatalf("Resample = %v; want columns 2 (mean of 1 and 3) and 6 (of 5 and 7)", got)
	}
	if sparse := Resample([]int64{0, 90}, vals(1, 1), 10); sparse[5] != nil || sparse[0] == nil || sparse[9] == nil {
		t.Fatalf("Resample of two far points = %v; want the ends set and a gap between", sparse)
	}
}
