package use

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// smallVocab has the six reserved entries, then pieces that exercise ties,
// a null score and a piece outside the Basic Multilingual Plane.
const smallVocab = `[["\ufffd",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],
["▁",-2],["a",-3],["b",-3],["▁a",-1],["ab",-2.5],["▁ab",-1.5],[":",null],["😀",-4],["c",-3]]`

func TestTokenizerSmallVocab(t *testing.T) {
	t.Parallel()
	tok, err := NewTokenizer([]byte(smallVocab))
	if err != nil {
		t.Fatalf("NewTokenizer: %v", err)
	}
	for _, tc := range []struct {
		text string
		want []int
	}{
		{"", nil},
		{"a", []int{9}},                 // "▁a" beats "▁" + "a"
		{"ab", []int{11}},               // one piece for the whole word
		{"ab b", []int{11, 6, 8}},       // a space is the separator
		{"zz", []int{6, 0}},             // unknown characters collapse into one id
		{"a:", []int{9, 12}},            // a null score counts as 0
		{"ｃ", []int{6, 14}},             // NFKC folds full-width letters
		{"b\u00a0b", []int{6, 8, 6, 8}}, // NFKC turns a no-break space into a space
	} {
		if got := tok.Encode(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestNewTokenizerRejectsBadVocabulary(t *testing.T) {
	t.Parallel()
	for _, v := range []string{``, `{}`, `[["a",0]]`, `[[1,0],[2,0],[3,0],[4,0],[5,0],[6,0],[7,0]]`, `[["a","b"],["a",0],["a",0],["a",0],["a",0],["a",0],["a",0]]`} {
		if _, err := NewTokenizer([]byte(v)); err == nil {
			t.Errorf("NewTokenizer(%q) accepted a bad vocabulary", v)
		}
	}
}

// FuzzTokenizer checks that any input, valid UTF-8 or not, yields ids in
// the vocabulary, never two unknown ids in a row, and no panic.
func FuzzTokenizer(f *testing.F) {
	tok, err := NewTokenizer([]byte(smallVocab))
	if err != nil {
		f.Fatalf("NewTokenizer: %v", err)
	}
	for _, s := range []string{"", "a", "ab ab", "😀😀", "\xff\xfe", "e\u0301", "a:b:c", "ｃ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for i, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q) id %d out of range", s, id)
			}
			if i > 0 && id == unknownID && ids[i-1] == unknownID {
				t.Fatalf("Encode(%q) = %v has consecutive unknown ids", s, ids)
			}
		}
		if utf8.ValidString(s) && len(s) > 0 && len(normalize(s)) > 0 && len(ids) == 0 {
			t.Fatalf("Encode(%q) gave no ids for non-empty text", s)
		}
	})
}

// FuzzNewTokenizer feeds arbitrary vocabulary files to the decoder: it must
// return an error or a working tokenizer, never panic.
func FuzzNewTokenizer(f *testing.F) {
	f.Add([]byte(smallVocab))
	f.Add([]byte(`[["a",0],["b",0],["c",0],["d",0],["e",0],["f",0],["",1],["g",null]]`))
	f.Add([]byte(`[[]]`))
	f.Fuzz(func(t *testing.T, vocab []byte) {
		tok, err := NewTokenizer(vocab)
		if err != nil {
			return
		}
		for _, id := range tok.Encode("a bc 😀 g") {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
		}
	})
}

// TestEmptyUnknownPieceTerminates guards the walk back along the best path:
// with an empty unknown piece it used to loop forever.
func TestEmptyUnknownPieceTerminates(t *testing.T) {
	t.Parallel()
	tok, err := NewTokenizer([]byte(`[["",0],["b",0],["c",0],["d",0],["e",0],["f",0],["a",-1]]`))
	if err != nil {
		t.Fatalf("NewTokenizer: %v", err)
	}
	if got := tok.Encode("zz a"); len(got) == 0 {
		t.Errorf("Encode gave no ids")
	}
}
