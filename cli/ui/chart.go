package ui

import (
	"math"
	"strings"
)

// blocks are the eighths of a character cell, empty to full.
var blocks = []rune(" ▁▂▃▄▅▆▇█")

// Resample spreads values taken at times over width columns by time (a
// column is the mean of the values that fall in it; nil where none does, so
// a gap in the samples shows as a gap).
func Resample(times []int64, values []*float64, width int) []*float64 {
	out := make([]*float64, width)
	if len(times) == 0 || width <= 0 {
		return out
	}
	start, end := times[0], times[len(times)-1]
	sums, counts := make([]float64, width), make([]int, width)
	for i, t := range times {
		if i >= len(values) || values[i] == nil {
			continue
		}
		col := width - 1
		if end > start {
			col = int(math.Round(float64(t-start) / float64(end-start) * float64(width-1)))
		}
		sums[col] += *values[i]
		counts[col]++
	}
	for i := range out {
		if counts[i] > 0 {
			v := sums[i] / float64(counts[i])
			out[i] = &v
		}
	}
	return out
}

// Sparkline draws cols (see Resample) as one row of eighth blocks, scaled
// from 0 to top (the columns' largest value when top is 0).
func Sparkline(cols []*float64, top float64) string {
	return Chart(cols, 1, top, 0)[0]
}

// Chart draws cols as height rows of eighth blocks, scaled from 0 to top
// (at least the largest value). A limit above 0 is marked with ┄ across the
// row it falls in, wherever the bars stay below it; rows are top first.
func Chart(cols []*float64, height int, top, limit float64) []string {
	for _, v := range cols {
		if v != nil && *v > top {
			top = *v
		}
	}
	if height < 1 {
		height = 1
	}
	levels := height * 8
	limitRow := -1
	if limit > 0 && top > 0 {
		limitRow = min(int(limit/top*float64(height)), height-1) // from the bottom
	}
	rows := make([][]rune, height)
	for r := range rows {
		rows[r] = []rune(strings.Repeat(" ", len(cols)))
	}
	for c, v := range cols {
		filled := 0
		if v != nil && top > 0 {
			filled = int(math.Round(*v / top * float64(levels)))
			if *v > 0 && filled == 0 {
				filled = 1 // a non-zero value always shows
			}
		} else if v != nil {
			filled = 1 // everything is zero: a floor, not a gap
		}
		for r := 0; r < height; r++ {
			n := min(max(filled-r*8, 0), 8)
			if n > 0 {
				rows[r][c] = blocks[n]
			} else if r == limitRow {
				rows[r][c] = '┄'
			}
		}
	}
	out := make([]string, height)
	for r := range rows {
		out[height-1-r] = string(rows[r])
	}
	return out
}
