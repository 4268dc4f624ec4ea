package backup

import (
	"sort"
	"time"

	"larder/fault"
)

// Stored is a backup as retention sees it.
type Stored struct {
	ID       string
	At       time.Time // when it was taken
	Verified bool      // restoring it was proven (Verify)
}

// Expired returns the IDs of the backups to delete so that keep remain: it
// keeps the keep newest verified backups, and every backup newer than the
// newest verified one (still being verified, or failed with nothing better
// since). So a backup is only ever deleted when a newer verified backup
// exists, and a run of failed verifications never costs a good backup.
func Expired(backups []Stored, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fault.E(fault.Invalid, "retention: keep at least 1 backup, not %d", keep)
	}
	sorted := append([]Stored(nil), backups...)
	sort.Slice(sorted, func(i, j int) bool { // newest first; ties by id
		if !sorted[i].At.Equal(sorted[j].At) {
			return sorted[i].At.After(sorted[j].At)
		}
		return sorted[i].ID > sorted[j].ID
	})
	var out []string
	verified := 0
	for _, b := range sorted {
		switch {
		case b.Verified && verified < keep:
			verified++
		case verified == 0: // nothing newer is verified
		default:
			out = append(out, b.ID)
		}
	}
	return out, nil
}
