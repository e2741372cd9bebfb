package search

import "strings"

// Calibration is where a model's cosine similarities stop meaning "this
// fits". The numbers were chosen by TestRelevanceFloor (search/
// relevance_test.go), which runs a labelled query set on a generated catalog
// and prints precision and recall for each floor; docs/search-and-ui.md
// records the table. A model without a calibration shows every result, with
// no label.
type Calibration struct {
	// Floor is the lowest similarity shown by default; weaker results are
	// counted and offered behind "show weaker matches" (min_score=0).
	Floor float64
	// Strong is where a result reads as a strong match.
	Strong float64
	// Precision and Recall are what Floor gave on the labelled set; the test
	// fails if a change to the model or the set drops below them.
	Precision, Recall float64
}

// calibrations are keyed by model id, or by a prefix ending in "-" for a
// family (the hash test embedder at any dimension).
var calibrations = map[string]Calibration{
	"use-lite-512-v0.2.0": {Floor: 0.425, Strong: 0.60, Precision: 0.423, Recall: 0.900},
	// The hash test embedder knows words, not meanings: its floor only
	// keeps tests honest about the floor's plumbing.
	"hash-v1-": {Floor: 0.375, Strong: 0.45, Precision: 0.367, Recall: 0.301},
}

// CalibrationFor returns the model's calibration.
func CalibrationFor(model string) (Calibration, bool) {
	if c, ok := calibrations[model]; ok {
		return c, true
	}
	for k, c := range calibrations {
		if strings.HasSuffix(k, "-") && strings.HasPrefix(model, k) {
			return c, true
		}
	}
	return Calibration{}, false
}

// Label is how relevant a result reads to a person, the same words in
// vector and hybrid mode.
type Label string

const (
	// LabelExact is a product whose SKU or id is the query.
	LabelExact Label = "exact"
	// LabelStrong is a close match of meaning.
	LabelStrong Label = "strong"
	// LabelGood is a fair match of meaning.
	LabelGood Label = "good"
	// LabelWeak is a loose match of meaning, above the floor.
	LabelWeak Label = "weak"
	// LabelKeyword is a hybrid result found by its words only: its meaning
	// was not among the nearest, so it has no similarity to grade.
	LabelKeyword Label = "keyword"
	// LabelUnrated is a result of a model without a calibration.
	LabelUnrated Label = ""
)

// LabelFor grades a cosine similarity.
func LabelFor(c Calibration, similarity float64) Label {
	switch {
	case c.Strong == 0 && c.Floor == 0:
		return LabelUnrated
	case similarity >= c.Strong:
		return LabelStrong
	case similarity >= c.Floor:
		return LabelGood
	}
	return LabelWeak
}

// floor is the similarity floor for q: its own min_score, else the model's.
func (s *Service) floor(q Query) float64 {
	if q.MinScore != nil {
		return *q.MinScore
	}
	return s.cal.Floor
}

// grade labels the ranked results and drops those whose similarity is
// below floor, returning how many were dropped. Hybrid results found by
// their words only have no similarity: the words are the evidence, so they
// stay, labelled as keyword matches.
func (s *Service) grade(rs []Result, floor float64) ([]Result, int) {
	out := rs[:0]
	weaker := 0
	for _, r := range rs {
		if !r.HasSimilarity {
			r.Label = LabelKeyword
			out = append(out, r)
			continue
		}
		if r.Similarity < floor {
			weaker++
			continue
		}
		r.Label = LabelFor(s.cal, r.Similarity)
		out = append(out, r)
	}
	return out, weaker
}
