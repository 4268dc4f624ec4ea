package rediscli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// errUnbalancedQuotes is what splitArgs says of a line redis-cli would refuse.
var errUnbalancedQuotes = errors.New("Invalid argument(s)")

// splitArgs splits a redis:cli input line into arguments as redis-cli does:
// blanks separate arguments; "double quotes" take \n \r \t \b \a \xHH and
// \<any char> escapes; 'single quotes' take \' only; a closing quote must
// end the argument. "" is an empty argument.
func splitArgs(line string) ([]string, error) {
	args := []string{}
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			return args, nil
		}
		var cur []byte
		var quote byte // 0, '"' or '\''
	arg:
		for ; ; i++ {
			if i == len(line) {
				if quote != 0 {
					return nil, errUnbalancedQuotes
				}
				break
			}
			c := line[i]
			switch {
			case quote == 0 && isSeparator(c):
				break arg
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				if i+1 < len(line) && !isBlank(line[i+1]) {
					return nil, errUnbalancedQuotes
				}
				i++
				break arg
			case quote == '"' && c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
				b, _ := strconv.ParseUint(line[i+2:i+4], 16, 8)
				cur = append(cur, byte(b))
				i += 3
			case quote == '"' && c == '\\' && i+1 < len(line):
				i++
				cur = append(cur, unescape(line[i]))
			case quote == '\'' && c == '\\' && i+1 < len(line) && line[i+1] == '\'':
				i++
				cur = append(cur, '\'')
			default:
				cur = append(cur, c)
			}
		}
		args = append(args, string(cur))
	}
}

// isBlank is C's isspace, which redis-cli skips between arguments.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// isSeparator ends an unquoted argument.
func isSeparator(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

// repr quotes s as redis-cli shows a string: printable ASCII as is, \\ \"
// \n \r \t \a \b escaped, every other byte (UTF-8 included) as \xHH.
// splitArgs reads it back as s.
func repr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// formatTTY renders a reply as redis-cli does on a terminal:
//
//  1. "a"
//  2. 1) (integer) 1
//  2. (nil)
//
// prefix is the indentation of nested elements after the first.
func formatTTY(r reply, prefix string) string {
	switch r.kind {
	case replyError:
		return "(error) " + r.str + "\n"
	case replyStatus, replyVerbStr:
		return r.str + "\n"
	case replyInt:
		return fmt.Sprintf("(integer) %d\n", r.num)
	case replyDouble:
		return "(double) " + r.str + "\n"
	case replyBigNum:
		return "(big number) " + r.str + "\n"
	case replyBool:
		if r.num != 0 {
			return "(true)\n"
		}
		return "(false)\n"
	case replyNil:
		return "(nil)\n"
	case replyArray, replySet, replyPush, replyMap:
		return formatAggregateTTY(r, prefix)
	}
	return repr(r.str) + "\n"
}

func formatAggregateTTY(r reply, prefix string) string {
	step, sep, empty := 1, ')', "(empty array)\n"
	switch r.kind {
	case replyMap:
		step, sep, empty = 2, '#', "(empty hash)\n"
	case replySet:
		sep, empty = '~', "(empty set)\n"
	case replyPush:
		empty = "(empty push)\n"
	}
	if len(r.elems) == 0 {
		return empty
	}
	width := len(strconv.Itoa(len(r.elems) / step))
	inner := prefix + strings.Repeat(" ", width+2)
	var b strings.Builder
	for i := 0; i+step <= len(r.elems); i += step {
		if i > 0 {
			b.WriteString(prefix) // the first element follows its parent's index
		}
		fmt.Fprintf(&b, "%*d%c ", width, i/step+1, sep)
		entry := formatTTY(r.elems[i], inner)
		if step == 2 {
			entry = strings.TrimSuffix(entry, "\n") + " => " + formatTTY(r.elems[i+1], inner)
		}
		b.WriteString(entry)
	}
	return b.String()
}

// formatRaw renders a reply as redis-cli does when its output is not a
// terminal: strings bare, integers as digits, nil as nothing, one line per
// element of an aggregate, a map's key and value on one line, and an error
// as its text and a newline, which leaves a blank line after it, as
// redis-cli's does.
func formatRaw(r reply) string {
	switch r.kind {
	case replyNil:
		return ""
	case replyError:
		return r.str + "\n"
	case replyInt:
		return strconv.FormatInt(r.num, 10)
	case replyBool:
		if r.num != 0 {
			return "(true)"
		}
		return "(false)"
	case replyArray, replySet, replyPush:
		parts := make([]string, len(r.elems))
		for i, e := range r.elems {
			parts[i] = formatRaw(e)
		}
		return strings.Join(parts, "\n")
	case replyMap:
		var parts []string
		for i := 0; i+1 < len(r.elems); i += 2 {
			parts = append(parts, formatRaw(r.elems[i])+" "+formatRaw(r.elems[i+1]))
		}
		return strings.Join(parts, "\n")
	}
	return r.str
}

// formatReply renders the reply to args for output: redis-cli's terminal
// form when tty, else its raw form. Like redis-cli, it prints the text of
// INFO, CLIENT LIST and their kind raw everywhere, since it is meant to be read.
func formatReply(args []string, r reply, tty bool) string {
	switch {
	case rawTextCommand(args) && r.kind != replyError:
		return formatRaw(r)
	case tty:
		return formatTTY(r, "")
	}
	return formatRaw(r) + "\n"
}

// rawTextCommand reports whether args is a command whose reply is text for
// people, which redis-cli prints as is rather than quoted.
func rawTextCommand(args []string) bool {
	sub := func(names ...string) bool {
		if len(args) != 2 {
			return false
		}
		for _, n := range names {
			if strings.EqualFold(args[1], n) {
				return true
			}
		}
		return false
	}
	switch strings.ToLower(args[0]) {
	case "info":
		return true
	case "client":
		return sub("list", "info")
	case "memory":
		return sub("doctor", "malloc-stats")
	case "latency":
		return sub("doctor")
	case "cluster":
		return sub("nodes", "info")
	}
	return false
}
