package ui

import (
	"testing"

	"larder/internal/testkit"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{"aligned, no trailing spaces", []string{"Name", "Plan"}, [][]string{{"redis-a", "mini"}, {"r", "premium-0"}},
			"Name     Plan\n" +
				"───────  ─────────\n" +
				"redis-a  mini\n" +
				"r        premium-0\n"},
		{"runes count once", []string{"App", "X"}, [][]string{{"⬢ web", "1"}, {" └─ as REDIS"}},
			"App           X\n" +
				"────────────  ─\n" +
				"⬢ web         1\n" +
				" └─ as REDIS\n"},
		{"empty header cell", []string{"", "Name"}, [][]string{{"default", "mini"}, {"", "premium-0"}},
			"         Name\n" +
				"───────  ─────────\n" +
				"default  mini\n" +
				"         premium-0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := NewTable(tt.header...)
			for _, r := range tt.rows {
				tb.Add(r...)
			}
			testkit.CheckOutput(t, "table", tb.Write, tt.want)
		})
	}
}

func TestFields(t *testing.T) {
	var f Fields
	f.Add("Plan", "mini")
	f.Add("Attachments", "web::REDIS", "other::CACHE")
	f.Add("Empty")
	f.Add("Key", "line1\nline2")
	want := "Plan:        mini\n" +
		"Attachments: web::REDIS\n" +
		"             other::CACHE\n" +
		"Empty:\n" +
		"Key:         line1\n" +
		"             line2\n"
	testkit.CheckOutput(t, "fields", f.Write, want)
}
