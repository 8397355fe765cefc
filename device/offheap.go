package device

import (
	"reflect"
	"unsafe"

	useragent "github.com/medama-io/go-useragent"
)

// The parser's trie is 83,000 nodes (go-useragent v1.2.5), each with its
// own array of children: about 140,000 heap objects, nine in ten of all
// the objects a running server keeps. The garbage collector visited every
// one of them in every cycle, so under load its mark phase took 26-51 ms
// of a 2-core machine and showed in the tail of every request
// (docs/PERFORMANCE.md, round 5).
//
// offHeap copies the trie, once, into three arrays in memory the collector
// does not manage (one anonymous mapping): nodes, children and results,
// each node's slices pointing into them. Nothing in the copy points into
// Go's heap and nothing on the heap owns it, so the collector neither
// scans it nor frees it; it lives as long as the process, read-only in
// use. The library's own Get walks the copy unchanged.
//
// The copy mirrors the library's unexported node layout. layoutMatches
// checks that layout by reflection first (field names, types, sizes and
// offsets); on any difference (a new version of the library) the trie
// stays where it is, as before.

// Mirrors of useragent's RuneTrie, childNode and resultItem.
type (
	mirrorNode struct {
		children []mirrorChild
		result   []mirrorResult
	}
	mirrorChild struct {
		node *mirrorNode
		r    rune
	}
	mirrorResult [3]uint8
)

// layoutMatches reports whether useragent.RuneTrie is laid out as
// mirrorNode (and its element types as mirrorChild and mirrorResult).
func layoutMatches() bool {
	t := reflect.TypeFor[useragent.RuneTrie]()
	if t.Size() != unsafe.Sizeof(mirrorNode{}) || t.NumField() != 2 {
		return false
	}
	ch, res := t.Field(0), t.Field(1)
	if ch.Name != "childrenArr" || ch.Offset != unsafe.Offsetof(mirrorNode{}.children) || ch.Type.Kind() != reflect.Slice ||
		res.Name != "result" || res.Offset != unsafe.Offsetof(mirrorNode{}.result) || res.Type.Kind() != reflect.Slice {
		return false
	}
	c := ch.Type.Elem()
	if c.Size() != unsafe.Sizeof(mirrorChild{}) || c.NumField() != 2 {
		return false
	}
	node, r := c.Field(0), c.Field(1)
	if node.Name != "node" || node.Type != reflect.PointerTo(t) || node.Offset != unsafe.Offsetof(mirrorChild{}.node) ||
		r.Name != "r" || r.Type.Kind() != reflect.Int32 || r.Offset != unsafe.Offsetof(mirrorChild{}.r) {
		return false
	}
	e := res.Type.Elem()
	if e.Size() != unsafe.Sizeof(mirrorResult{}) || e.NumField() != 3 {
		return false
	}
	for i := range 3 {
		if f := e.Field(i); f.Type.Kind() != reflect.Uint8 || f.Offset != uintptr(i) {
			return false
		}
	}
	return true
}

// carve cuts n values of T from the front of mem and returns them and the
// rest. A mem too short panics (the slice expression is checked) rather
// than let the copy write past its mapping.
func carve[T any](mem []byte, n int) ([]T, []byte) {
	size := n * int(unsafe.Sizeof(*new(T)))
	b := mem[:size]
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n), mem[size:]
}

// mirror views a library node as its mirror.
func mirror(t *useragent.RuneTrie) *mirrorNode { return (*mirrorNode)(unsafe.Pointer(t)) }

// offHeap returns a copy of root outside the collected heap, or root
// itself when the layout does not match or no memory could be mapped.
func offHeap(root *useragent.RuneTrie) *useragent.RuneTrie {
	if root == nil || !layoutMatches() {
		return root
	}
	src := mirror(root)
	// Count, breadth first: a node's children take consecutive places.
	children, results := 0, 0
	queue := []*mirrorNode{src}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		children += len(n.children)
		results += len(n.result)
		for _, c := range n.children {
			queue = append(queue, c.node)
		}
	}
	nodes := len(queue)
	size := nodes*int(unsafe.Sizeof(mirrorNode{})) + children*int(unsafe.Sizeof(mirrorChild{})) + results*int(unsafe.Sizeof(mirrorResult{}))
	mem, ok := mapAnon(size)
	if !ok {
		return root
	}
	dstNodes, rest := carve[mirrorNode](mem, nodes)
	dstChildren, rest := carve[mirrorChild](rest, children)
	dstResults, _ := carve[mirrorResult](rest, results)
	next, ci, ri := 1, 0, 0
	for i, n := range queue {
		d := &dstNodes[i]
		if len(n.children) > 0 {
			d.children = dstChildren[ci : ci+len(n.children) : ci+len(n.children)]
			for j, c := range n.children {
				d.children[j] = mirrorChild{node: &dstNodes[next], r: c.r}
				next++
			}
			ci += len(n.children)
		}
		if len(n.result) > 0 {
			d.result = dstResults[ri : ri+len(n.result) : ri+len(n.result)]
			copy(d.result, n.result)
			ri += len(n.result)
		}
	}
	seal(mem)
	return (*useragent.RuneTrie)(unsafe.Pointer(&dstNodes[0]))
}
