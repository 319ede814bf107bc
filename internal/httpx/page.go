package httpx

// Page trims items, read with limit+1 so that a further page shows, to
// limit, and returns the cursor of the next page: the id of the last item
// kept, or "" when nothing follows. The slice is never nil, so it encodes
// as [] rather than null.
func Page[T any](items []T, limit int, id func(T) string) ([]T, string) {
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = id(items[len(items)-1])
	}
	if items == nil {
		items = []T{}
	}
	return items, next
}
