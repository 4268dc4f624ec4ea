package jobs

import (
	"fmt"
	"sync"
	"testing"
)

// TestAddonLocksAreFreed: locks exclude each other per add-on and are
// forgotten once nobody holds or awaits them.
func TestAddonLocksAreFreed(t *testing.T) {
	var l Locks
	var wg sync.WaitGroup
	inside := map[string]int{}
	var mu sync.Mutex
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("addon-%d", i%10)
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := l.Lock(id)
			mu.Lock()
			inside[id]++
			if inside[id] > 1 {
				t.Errorf("two holders of %s at once", id)
			}
			mu.Unlock()
			mu.Lock()
			inside[id]--
			mu.Unlock()
			unlock()
			unlock() // a second call is harmless
		}()
	}
	wg.Wait()
	if n := l.held(); n != 0 {
		t.Errorf("locks left after every holder released: %d, want 0", n)
	}
}
