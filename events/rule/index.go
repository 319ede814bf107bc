package rule

import "slices"

// Index finds the items (challenges, badges...) that may care about an
// event type, so an event is matched only against those.
type Index[T any] struct {
	byType map[string][]T
}

// NewIndex indexes items under the event types that types returns for each
// (for items holding a Rule, its EventTypes). An item listed under one type
// twice is indexed once.
func NewIndex[T any](items []T, types func(T) []string) *Index[T] {
	ix := &Index[T]{byType: make(map[string][]T)}
	for _, it := range items {
		ts := types(it)
		for i, t := range ts {
			if !slices.Contains(ts[:i], t) {
				ix.byType[t] = append(ix.byType[t], it)
			}
		}
	}
	return ix
}

// For returns the items indexed under eventType, in the order given to
// NewIndex. The slice is shared: callers must not modify it.
func (ix *Index[T]) For(eventType string) []T {
	return ix.byType[eventType]
}
