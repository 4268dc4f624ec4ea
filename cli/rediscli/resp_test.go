package rediscli

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want reply
	}{
		{"status", "+OK\r\n", status("OK")},
		{"error", "-ERR no\r\n", errReply("ERR no")},
		{"integer", ":-12\r\n", integer(-12)},
		{"bulk", "$5\r\na\r\nbc\r\n", bulk("a\r\nbc")},
		{"empty bulk", "$0\r\n\r\n", bulk("")},
		{"nil bulk", "$-1\r\n", nilReply()},
		{"nil array", "*-1\r\n", nilReply()},
		{"array", "*3\r\n$1\r\na\r\n:1\r\n*1\r\n$-1\r\n", array(bulk("a"), integer(1), array(nilReply()))},
		{"empty array", "*0\r\n", reply{kind: replyArray, elems: []reply{}}},
		{"resp3 null", "_\r\n", nilReply()},
		{"double", ",3.14\r\n", reply{kind: replyDouble, str: "3.14"}},
		{"bool", "#t\r\n", reply{kind: replyBool, num: 1}},
		{"big number", "(3492890328409238509324850943850943825024385\r\n", reply{kind: replyBigNum, str: "3492890328409238509324850943850943825024385"}},
		{"verbatim", "=15\r\ntxt:Some string\r\n", reply{kind: replyVerbStr, str: "Some string"}},
		{"blob error", "!9\r\nERR where\r\n", errReply("ERR where")},
		{"map", "%1\r\n+k\r\n:2\r\n", mapReply(status("k"), integer(2))},
		{"set", "~1\r\n+a\r\n", reply{kind: replySet, elems: []reply{status("a")}}},
		{"push", ">2\r\n+invalidate\r\n*0\r\n", reply{kind: replyPush, elems: []reply{status("invalidate"), {kind: replyArray, elems: []reply{}}}}},
		{"attribute is dropped", "|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", bulk("v")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := bufio.NewReader(strings.NewReader(tt.in))
			got, err := readReply(rd)
			if err != nil {
				t.Fatalf("readReply(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readReply(%q): got %+v, want %+v", tt.in, got, tt.want)
			}
			if rest, _ := io.ReadAll(rd); len(rest) != 0 {
				t.Errorf("readReply(%q) left %q unread", tt.in, rest)
			}
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"nothing", "", io.EOF},
		{"cut line", "+OK", io.ErrUnexpectedEOF},
		{"cut bulk", "$5\r\nab", io.ErrUnexpectedEOF},
		{"cut array", "*2\r\n:1\r\n", io.ErrUnexpectedEOF},
		{"no CR", "+OK\n", errProtocol},
		{"unknown type", "?x\r\n", errProtocol},
		{"bad integer", ":x\r\n", errProtocol},
		{"bad length", "$-2\r\n", errProtocol},
		{"huge bulk", "$99999999999\r\n", errProtocol},
		{"bulk without CRLF", "$1\r\nabc\r\n", errProtocol},
		{"bad bool", "#x\r\n", errProtocol},
		{"too deep", strings.Repeat("*1\r\n", maxNesting+2) + ":1\r\n", errProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readReply(bufio.NewReader(strings.NewReader(tt.in)))
			if !errors.Is(err, tt.want) {
				t.Errorf("readReply(%q): got %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestWriteCommand(t *testing.T) {
	var b bytes.Buffer
	if err := writeCommand(bufio.NewWriter(&b), []string{"SET", "k", "a b\r\n", ""}); err != nil {
		t.Fatal(err)
	}
	want := "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n$0\r\n\r\n"
	if b.String() != want {
		t.Errorf("writeCommand: got %q, want %q", b.String(), want)
	}
}

// FuzzReadReply checks that no input makes the reader panic or allocate
// what the input does not hold, and that what it reads can be printed.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n+k\r\n_\r\n", "$2147483647\r\nab", "*1073741824\r\n", "|1\r\n+a\r\n+b\r\n+c\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readReply(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		_ = formatTTY(r, "")
		_ = formatRaw(r)
	})
}
