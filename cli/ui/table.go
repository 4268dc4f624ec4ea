package ui

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Table prints rows in aligned columns under a header and a rule, like
// Heroku's tables. Widths count runes, so ⬢ and └─ line up.
type Table struct {
	header []string
	rows   [][]string
}

func NewTable(header ...string) *Table { return &Table{header: header} }

// Grow makes room for n more rows.
func (t *Table) Grow(n int) { t.rows = slices.Grow(t.rows, n) }

// Add appends a row; missing trailing cells are empty.
func (t *Table) Add(cells ...string) { t.rows = append(t.rows, cells) }

// Write prints the table to w, a line at a time through one buffer (a
// listing of 10 000 add-ons is 10 000 lines).
func (t *Table) Write(w io.Writer) error {
	widths := make([]int, len(t.header))
	measure := func(r []string) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("─", n)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	write := func(r []string) {
		line = line[:0]
		for i, n := range widths {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			if i > 0 {
				line = append(line, "  "...)
			}
			line = append(line, c...)
			for k := utf8.RuneCountInString(c); k < n; k++ {
				line = append(line, ' ')
			}
		}
		bw.Write(bytes.TrimRight(line, " "))
		bw.WriteByte('\n')
	}
	write(t.header)
	write(rule)
	for _, r := range t.rows {
		write(r)
	}
	return bw.Flush()
}

// field is one `Key: value` row of a styled object; more values go on their
// own lines under the first.
type field struct {
	key    string
	values []string
}

// Fields prints `Key: value` rows with the values aligned, like Heroku's
// styled objects (addons:info, redis:info, config).
type Fields []field

func (f *Fields) Add(key string, values ...string) { *f = append(*f, field{key, values}) }

func (f Fields) Write(w io.Writer) error {
	width := 0
	for _, r := range f {
		width = max(width, utf8.RuneCountInString(r.key)+1)
	}
	var b strings.Builder
	for _, r := range f {
		var lines []string // a value with newlines (a key file) stays aligned too
		for _, v := range r.values {
			lines = append(lines, strings.Split(v, "\n")...)
		}
		if len(lines) == 0 {
			lines = []string{""}
		}
		for i, v := range lines {
			label := ""
			if i == 0 {
				label = r.key + ":"
			}
			line := label + strings.Repeat(" ", width-utf8.RuneCountInString(label)+1) + v
			b.WriteString(strings.TrimRight(line, " "))
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHeader prints Heroku's `=== title` line and the blank line after it.
func WriteHeader(w io.Writer, title string) error {
	_, err := fmt.Fprintf(w, "=== %s\n\n", title)
	return err
}
