package httpjson

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// marshaler is a type with its own JSON, as several of larder's have.
type marshaler struct{ v string }

func (m marshaler) MarshalJSON() ([]byte, error) { return json.Marshal("m:" + m.v) }

// TestWriteIsEncodingJSON: Write answers byte for byte what encoding/json's
// indented encoder writes — escapes, map order, nil and empty values, times
// and types with their own JSON — so the faster encoder changed no answer.
func TestWriteIsEncodingJSON(t *testing.T) {
	type inner struct {
		At   time.Time `json:"at"`
		Note string    `json:"note,omitempty"`
	}
	type body struct {
		Name    string            `json:"name"`
		Reason  string            `json:"reason,omitempty"`
		Vars    map[string]string `json:"vars"`
		List    []string          `json:"list"`
		Nil     []string          `json:"nil"`
		Inner   []inner           `json:"inner"`
		Custom  marshaler         `json:"custom"`
		Count   int64             `json:"count"`
		Ratio   float64           `json:"ratio"`
		Ptr     *inner            `json:"ptr"`
		Any     any               `json:"any"`
		private string
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 891011, time.FixedZone("x", 3600))
	for name, v := range map[string]any{
		"struct": body{Name: "redis-<a>&\"b\"\\ \u2028\u2029 é\t\x01", Vars: map[string]string{"B": "2", "A": "1", "é": "<"},
			List: []string{}, Inner: []inner{{At: at}, {At: at.UTC(), Note: "n"}}, Custom: marshaler{"x<"}, Count: -1 << 40,
			Ratio: 1.5e-7, Ptr: &inner{At: at}, Any: map[string]any{"z": []any{1.0, "s", nil, true}, "a": 2.5}, private: "p"},
		"list":   []body{{}, {Name: "b"}},
		"empty":  []string{},
		"map":    map[string]int{"b": 1, "a": 2},
		"string": "<plain>",
	} {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			Write(rec, 200, v)
			if got := rec.Body.String(); got != want.String() {
				t.Errorf("Write wrote\n%s\nencoding/json writes\n%s", got, want.String())
			}
		})
	}
}
