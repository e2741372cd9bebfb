package use

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// reservedPieces is how many leading vocabulary entries (unknown, <s>, </s>
// and three extra ids) never take part in segmentation, as in the reference.
const reservedPieces = 6

// unknownID is the id of the unknown piece; runs of unknown characters
// collapse into one such id.
const unknownID = 0

// separator replaces spaces and starts every non-empty text, as in
// SentencePiece.
const separator = "\u2581"

// piece is one vocabulary entry usable in segmentation.
type piece struct {
	id    int
	score float64
	runes int // length in code points, used while building the lattice
}

// Tokenizer segments text into vocabulary ids with SentencePiece unigram
// Viterbi decoding. It reproduces the JavaScript reference
// (@energetic-ai/embeddings 0.2.0) exactly, quirks included, because the
// model only gives the reference's vectors for the reference's ids.
type Tokenizer struct {
	pieces   map[string]piece
	maxRunes int
	// units is each id's piece length in UTF-16 code units: the reference
	// walks the best path back by that length, not by code points.
	units []int
}

// NewTokenizer builds a tokenizer from vocab.json's content: an array of
// [piece, score] pairs whose index is the token id.
func NewTokenizer(vocabJSON []byte) (*Tokenizer, error) {
	var raw [][2]any
	if err := json.Unmarshal(vocabJSON, &raw); err != nil {
		return nil, fmt.Errorf("decode vocabulary: %w", err)
	}
	if len(raw) <= reservedPieces {
		return nil, fmt.Errorf("decode vocabulary: %d entries is too few", len(raw))
	}
	t := &Tokenizer{pieces: make(map[string]piece, len(raw)), units: make([]int, len(raw))}
	for i, e := range raw {
		s, ok := e[0].(string)
		if !ok {
			return nil, fmt.Errorf("decode vocabulary: entry %d has no string piece", i)
		}
		// A few pieces (those holding ':') have a null score, which the
		// reference's arithmetic turns into 0.
		score, ok := e[1].(float64)
		if !ok && e[1] != nil {
			return nil, fmt.Errorf("decode vocabulary: entry %d has no numeric score", i)
		}
		for _, r := range s {
			t.units[i]++
			if r > 0xFFFF {
				t.units[i]++
			}
		}
		if i < reservedPieces || s == "" {
			continue
		}
		n := utf8.RuneCountInString(s)
		t.pieces[s] = piece{id: i, score: score, runes: n}
		t.maxRunes = max(t.maxRunes, n)
	}
	return t, nil
}

// VocabSize is the number of ids the tokenizer can produce.
func (t *Tokenizer) VocabSize() int { return len(t.units) }

// normalize applies the reference's preprocessing: NFKC, spaces to the
// separator, and a leading separator on non-empty text.
func normalize(text string) string {
	text = norm.NFKC.String(strings.ToValidUTF8(text, "\uFFFD"))
	if text == "" {
		return ""
	}
	return separator + strings.ReplaceAll(text, " ", separator)
}

// Encode returns the token ids of text, without any length limit.
func (t *Tokenizer) Encode(text string) []int {
	s := normalize(text)
	if s == "" {
		return nil
	}
	// offs[i] is the byte offset of code point i; offs[n] is len(s).
	offs := make([]int, 0, len(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	n := len(offs)
	offs = append(offs, len(s))

	// ends[e] lists, in increasing start order, the pieces ending at e.
	type edge struct {
		start int
		p     piece
	}
	ends := make([][]edge, n+1)
	for i := 0; i < n; i++ {
		found := false
		for l := 1; l <= t.maxRunes && i+l <= n; l++ {
			if p, ok := t.pieces[s[offs[i]:offs[i+l]]]; ok {
				ends[i+l] = append(ends[i+l], edge{start: i, p: p})
				found = true
			}
		}
		if !found {
			ends[i+1] = append(ends[i+1], edge{start: i, p: piece{id: unknownID, runes: 1}})
		}
	}
	// Pieces are appended in increasing start order per end, which is the
	// order the reference visits them in (numeric object keys).
	best := make([]float64, n+1)
	words := make([]int, n+1)
	for e := 0; e <= n; e++ {
		for _, ed := range ends[e] {
			score := ed.p.score + best[e-ed.p.runes]
			// The reference treats a best score of exactly 0 as unset.
			if best[e] == 0 || score >= best[e] {
				best[e] = score
				words[e] = ed.p.id
			}
		}
	}
	var rev []int
	for it := n; it > 0; it -= max(1, t.units[words[it]]) { // max: an empty piece would loop forever
		rev = append(rev, words[it])
	}
	ids := make([]int, 0, len(rev))
	prevUnknown := false
	for _, id := range rev {
		if !(prevUnknown && id == unknownID) {
			ids = append(ids, id)
		}
		prevUnknown = id == unknownID
	}
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	return ids
}
