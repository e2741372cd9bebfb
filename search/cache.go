package search

import (
	"container/list"
	"sync"
)

// queryCache remembers the vectors of recent query texts. Search-as-you-type,
// paging and changing a filter all send the same text again, and embedding it
// is most of a search's cost, so a small LRU saves most of that work.
type queryCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is the most recent; values are *cacheEntry
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key string
	vec []float32
}

func newQueryCache(max int) *queryCache {
	return &queryCache{max: max, order: list.New(), byKey: make(map[string]*list.Element, max)}
}

// get returns the cached vector of text; callers must not modify it.
func (c *queryCache) get(text string) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[text]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).vec, true
}

func (c *queryCache) put(text string, vec []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[text]; ok {
		el.Value.(*cacheEntry).vec = vec
		c.order.MoveToFront(el)
		return
	}
	c.byKey[text] = c.order.PushFront(&cacheEntry{key: text, vec: vec})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

func (c *queryCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
