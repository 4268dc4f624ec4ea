package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"larder/fault"
)

// Discovery is what a running broker writes into its data directory so that the
// CLI on the same machine finds it with no set-up: `make run` in one terminal,
// `larder apps:create web` in another.
type Discovery struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// DiscoveryFile is the discovery file's name inside the data directory.
const DiscoveryFile = "broker.json"

// DefaultDataDir is where a broker keeps its SQLite file, node directories and
// discovery file: $LARDER_DATA, else $XDG_DATA_HOME/larder, else ~/.local/share/larder.
func DefaultDataDir() string {
	if d := os.Getenv("LARDER_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "larder")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "larder")
	}
	return filepath.Join(home, ".local", "share", "larder")
}

// ClientConfig is the CLI's optional config file ($LARDER_CONFIG, else
// $XDG_CONFIG_HOME/larder/config.json, else ~/.config/larder/config.json).
type ClientConfig struct {
	APIURL   string `json:"api_url"`
	APIToken string `json:"api_token"`
}

func clientConfigPath() string {
	if p := os.Getenv("LARDER_CONFIG"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "larder", "config.json")
}

// ResolveClient finds the broker the CLI should talk to, in this order:
// LARDER_API_URL/LARDER_API_TOKEN, the CLI config file, then the discovery
// file of a local broker in the default data directory. The URL may be a
// comma-separated list of brokers sharing one store; LARDER_API_TIMEOUT
// (a duration) bounds how long one broker may take to answer.
func ResolveClient() (*Client, error) {
	url, token := os.Getenv("LARDER_API_URL"), os.Getenv("LARDER_API_TOKEN")
	from := "LARDER_API_URL"
	if url == "" || token == "" {
		if p := clientConfigPath(); p != "" {
			b, err := os.ReadFile(p)
			switch {
			case err == nil:
				var cc ClientConfig
				if err := json.Unmarshal(b, &cc); err != nil {
					return nil, fault.E(fault.Invalid, "config file %s is not valid JSON: %v", p, err)
				}
				if url == "" && cc.APIURL != "" {
					url, from = cc.APIURL, "api_url in "+p
				}
				if token == "" {
					token = cc.APIToken
				}
			case !errors.Is(err, os.ErrNotExist):
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		}
	}
	if url == "" || token == "" {
		d, err := ReadDiscovery(DefaultDataDir())
		if err == nil {
			if url == "" && d.URL != "" {
				url, from = d.URL, "the discovery file "+filepath.Join(DefaultDataDir(), DiscoveryFile)
			}
			if token == "" {
				token = d.Token
			}
		}
	}
	if url == "" {
		return nil, fault.E(fault.Unavailable, "no larder broker found: start one with `make run` (or `larder broker`), or set LARDER_API_URL and LARDER_API_TOKEN")
	}
	if token == "" {
		return nil, fault.E(fault.Unauthorized, "no API token: set LARDER_API_TOKEN or api_token in %s", clientConfigPath())
	}
	cl, err := NewClientList(url, token)
	if err != nil {
		return nil, fault.E(fault.Invalid, "%s (from %s)", fault.Message(err), from)
	}
	if t := os.Getenv("LARDER_API_TIMEOUT"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, fault.E(fault.Invalid, "invalid LARDER_API_TIMEOUT %q: use a duration such as 30s", t)
		}
		cl.Timeout = d
	}
	return cl, nil
}

// ReadDiscovery reads a broker's discovery file from dataDir.
func ReadDiscovery(dataDir string) (Discovery, error) {
	var d Discovery
	b, err := os.ReadFile(filepath.Join(dataDir, DiscoveryFile))
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("parse %s: %w", DiscoveryFile, err)
	}
	return d, nil
}
