package testenv

import "sync"

// Burst calls fn(0..n-1) on n goroutines released together (real
// concurrency: none starts before all are ready) and counts the keys they
// return.
func Burst[K comparable](n int, fn func(i int) K) map[K]int {
	var mu sync.Mutex
	got := map[K]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k := fn(i)
			mu.Lock()
			got[k]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}
