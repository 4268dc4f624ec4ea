package engine

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer answers every connection with replies, after reading the AUTH
// and PING commands, and returns its address.
func fakeServer(t *testing.T, replies string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				r := bufio.NewReader(c)
				// AUTH is 7 lines of RESP, PING 3.
				for range 10 {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
				c.Write([]byte(replies))
			}()
		}
	}()
	return l.Addr().String()
}

func TestPingAdmin(t *testing.T) {
	tests := []struct {
		name    string
		replies string
		wantErr error  // matched with errors.Is; nil = success
		wantMsg string // substring of the error
	}{
		{"pong", "+OK\r\n+PONG\r\n", nil, ""},
		{"wrong password", "-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n", errAuth, "-WRONGPASS"},
		{"loading", "+OK\r\n-LOADING Redis is loading the dataset in memory\r\n", errLoading, ""},
		{"odd reply", "+OK\r\n:1\r\n", nil, "unexpected reply"},
		{"hang up", "", nil, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeServer(t, tt.replies)
			err := pingAdmin(context.Background(), addr, User{Name: AdminUser, Password: "s3cret"}, time.Second)
			switch {
			case tt.wantErr == nil && tt.wantMsg == "":
				if err != nil {
					t.Fatalf("pingAdmin() error = %v, want nil", err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("pingAdmin() error = %v, want %v", err, tt.wantErr)
			case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
				t.Fatalf("pingAdmin() error = %v, want one containing %q", err, tt.wantMsg)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("pingAdmin() error %q reveals the password", err)
			}
		})
	}
}

func TestPingAdminTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Accepted by the kernel, never answered: like a SIGSTOPped node.
	start := time.Now()
	err = pingAdmin(context.Background(), l.Addr().String(), User{Name: AdminUser, Password: "x"}, 100*time.Millisecond)
	if err == nil {
		t.Fatal("pingAdmin() of a silent server error = nil, want a timeout")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("pingAdmin() took %v, want about its 100ms timeout", took)
	}
}
