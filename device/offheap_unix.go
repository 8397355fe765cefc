//go:build unix

package device

import "syscall"

// mapAnon maps size bytes of private anonymous memory, outside Go's heap.
func mapAnon(size int) ([]byte, bool) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	return mem, err == nil
}

// seal makes the mapping read-only once filled: a stray write faults.
func seal(mem []byte) { _ = syscall.Mprotect(mem, syscall.PROT_READ) }
