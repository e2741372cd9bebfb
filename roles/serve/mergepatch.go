package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// mergePatch applies a JSON Merge Patch (RFC 7396) to doc: an object patch
// merges member by member (null removes a member), anything else replaces
// the document.
func mergePatch(doc, patch []byte) ([]byte, error) {
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("read patch: %w", err)
	}
	d, err := decodeJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("read document: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

// decodeJSON reads one JSON value, keeping numbers as written (an id or a
// price must not pass through float64).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func mergeValue(target, patch any) any {
	po, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	to, ok := target.(map[string]any)
	if !ok {
		to = map[string]any{}
	}
	for k, v := range po {
		if v == nil {
			delete(to, k)
			continue
		}
		to[k] = mergeValue(to[k], v)
	}
	return to
}
