package rediscli

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		line    string
		want    []string
		wantErr bool
	}{
		{"", []string{}, false},
		{"   \t ", []string{}, false},
		{"SET a 1", []string{"SET", "a", "1"}, false},
		{"  get   key  ", []string{"get", "key"}, false},
		{`SET a "hello world"`, []string{"SET", "a", "hello world"}, false},
		{`SET a ""`, []string{"SET", "a", ""}, false},
		{`SET a "x\ny\t\"q\"\\"`, []string{"SET", "a", "x\ny\t\"q\"\\"}, false},
		{`"\r\b\a"`, []string{"\r\b\a"}, false},
		{`"\x41\x7a\xE2\x82\xAC"`, []string{"Az€"}, false},
		{`"\xZZ"`, []string{"xZZ"}, false}, // not hex: \x is x
		{`"\q"`, []string{"q"}, false},
		{`'it''s'`, nil, true}, // a closing quote must end the argument
		{`'it\'s'`, []string{"it's"}, false},
		{`'a\nb'`, []string{`a\nb`}, false}, // single quotes keep backslashes
		{`'a "b"'`, []string{`a "b"`}, false},
		{`a"b c"`, []string{"ab c"}, false}, // a quote may start inside an argument
		{`a\nb`, []string{`a\nb`}, false},   // no escapes outside quotes
		{`"unterminated`, nil, true},
		{`'unterminated`, nil, true},
		{`"ends in backslash\`, nil, true},
		{`"a"b`, nil, true},
		{"\"a\"\tb", []string{"a", "b"}, false},
		{"a\x00b", []string{"a\x00b"}, false},
		{"x\v\fy", []string{"x\v\fy"}, false}, // \v and \f separate only between arguments
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := splitArgs(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("splitArgs(%q): got error %v, want error %v", tt.line, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitArgs(%q): got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// FuzzSplitArgs checks that the splitter never panics and that what it
// splits, quoted back with repr, splits to the same arguments.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"SET a 1", `"a\x00b" 'c\'d'`, `a"b c"`, `"\xff\n"`, "'", `"\`, "\t\v\f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := splitArgs(line)
		if err != nil {
			return
		}
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = repr(a)
		}
		again, err := splitArgs(strings.Join(quoted, " "))
		if err != nil || !reflect.DeepEqual(again, args) {
			t.Errorf("splitArgs(%q) = %q; quoted back as %q it splits to %q, %v", line, args, quoted, again, err)
		}
	})
}

func TestRepr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"\n\r\t\a\b", `"\n\r\t\a\b"`},
		{"\x00\x7f€", `"\x00\x7f\xe2\x82\xac"`},
	}
	for _, tt := range tests {
		if got := repr(tt.in); got != tt.want {
			t.Errorf("repr(%q): got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func bulk(s string) reply       { return reply{kind: replyBulk, str: s} }
func integer(n int64) reply     { return reply{kind: replyInt, num: n} }
func array(e ...reply) reply    { return reply{kind: replyArray, elems: e} }
func errReply(s string) reply   { return reply{kind: replyError, str: s} }
func status(s string) reply     { return reply{kind: replyStatus, str: s} }
func nilReply() reply           { return reply{kind: replyNil} }
func mapReply(e ...reply) reply { return reply{kind: replyMap, elems: e} }

func TestFormatTTY(t *testing.T) {
	ten := make([]reply, 10)
	for i := range ten {
		ten[i] = integer(int64(i))
	}
	tests := []struct {
		name string
		r    reply
		want string
	}{
		{"status", status("OK"), "OK\n"},
		{"bulk", bulk("a \"b\"\n"), `"a \"b\"\n"` + "\n"},
		{"integer", integer(-3), "(integer) -3\n"},
		{"nil", nilReply(), "(nil)\n"},
		{"error", errReply("ERR unknown command 'FOO'"), "(error) ERR unknown command 'FOO'\n"},
		{"empty array", array(), "(empty array)\n"},
		{"double", reply{kind: replyDouble, str: "1.5"}, "(double) 1.5\n"},
		{"bool", reply{kind: replyBool, num: 1}, "(true)\n"},
		{"big number", reply{kind: replyBigNum, str: "123456789012345678901234567890"}, "(big number) 123456789012345678901234567890\n"},
		{"verbatim", reply{kind: replyVerbStr, str: "# Server\r\nx:1\r\n"}, "# Server\r\nx:1\r\n\n"},
		{"empty map", mapReply(), "(empty hash)\n"},
		{"empty set", reply{kind: replySet}, "(empty set)\n"},
		{"flat array", array(bulk("a"), integer(1), nilReply()), "1) \"a\"\n2) (integer) 1\n3) (nil)\n"},
		{"nested", array(array(bulk("a"), array(bulk("b"), bulk("c"))), bulk("d"), array()),
			"1) 1) \"a\"\n" +
				"   2) 1) \"b\"\n" +
				"      2) \"c\"\n" +
				"2) \"d\"\n" +
				"3) (empty array)\n"},
		{"wide index", array(append(ten[:9:9], array(bulk("x"), bulk("y")))...),
			" 1) (integer) 0\n 2) (integer) 1\n 3) (integer) 2\n 4) (integer) 3\n 5) (integer) 4\n" +
				" 6) (integer) 5\n 7) (integer) 6\n 8) (integer) 7\n 9) (integer) 8\n" +
				"10) 1) \"x\"\n    2) \"y\"\n"},
		{"error in exec", array(status("OK"), errReply("WRONGTYPE Operation")), "1) OK\n2) (error) WRONGTYPE Operation\n"},
		{"map", mapReply(bulk("server"), bulk("valkey"), bulk("modules"), array(bulk("m"))),
			"1# \"server\" => \"valkey\"\n2# \"modules\" => 1) \"m\"\n"},
		{"set", reply{kind: replySet, elems: []reply{bulk("a"), bulk("b")}}, "1~ \"a\"\n2~ \"b\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatTTY(tt.r, ""); got != tt.want {
				t.Errorf("formatTTY:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFormatRaw(t *testing.T) {
	tests := []struct {
		name string
		r    reply
		want string
	}{
		{"status", status("OK"), "OK"},
		{"bulk", bulk("a \"b\""), `a "b"`},
		{"integer", integer(42), "42"},
		{"nil", nilReply(), ""},
		{"error", errReply("ERR wrong number of arguments"), "ERR wrong number of arguments\n"},
		{"error in exec", array(integer(3), errReply("WRONGTYPE x"), integer(1)), "3\nWRONGTYPE x\n\n1"},
		{"array", array(bulk("a"), nilReply(), array(integer(1), integer(2))), "a\n\n1\n2"},
		{"empty array", array(), ""},
		{"map", mapReply(bulk("k"), bulk("v"), bulk("n"), integer(1)), "k v\nn 1"},
		{"bool", reply{kind: replyBool}, "(false)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatRaw(tt.r); got != tt.want {
				t.Errorf("formatRaw: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatReply(t *testing.T) {
	info := bulk("# Server\r\nredis_version:7.2.4\r\n")
	tests := []struct {
		name string
		args []string
		r    reply
		tty  bool
		want string
	}{
		{"tty string", []string{"GET", "a"}, bulk("1"), true, "\"1\"\n"},
		{"raw string", []string{"GET", "a"}, bulk("1"), false, "1\n"},
		{"raw nil is an empty line", []string{"GET", "b"}, nilReply(), false, "\n"},
		{"raw error", []string{"FOO"}, errReply("ERR unknown command"), false, "ERR unknown command\n\n"},
		{"info on a terminal is text", []string{"info"}, info, true, info.str},
		{"info piped is text", []string{"INFO", "server"}, info, false, info.str},
		{"client list is text", []string{"client", "LIST"}, bulk("id=1 addr=x\n"), true, "id=1 addr=x\n"},
		{"client kill is not", []string{"client", "kill", "x"}, status("OK"), true, "OK\n"},
		{"info error stays an error", []string{"info"}, errReply("NOPERM"), true, "(error) NOPERM\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatReply(tt.args, tt.r, tt.tty); got != tt.want {
				t.Errorf("formatReply(%q, tty=%v): got %q, want %q", tt.args, tt.tty, got, tt.want)
			}
		})
	}
}
