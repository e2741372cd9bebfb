package search_test

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/refarch/refarch/catalog"
	"github.com/refarch/refarch/embedding"
	"github.com/refarch/refarch/internal/testkit"
	"github.com/refarch/refarch/search"
)

// labelledQuery is one query of the relevance set with the product kinds (the
// noun at the end of a generated product's name) that answer it. An empty
// list means nothing in the catalog fits: every result shown is a false hit.
type labelledQuery struct {
	q        string
	relevant []string
}

// relevanceSet is asked by meaning, in words that mostly differ from the
// descriptions (catalog.Generate). It is the set the floors in
// search/relevance.go were chosen on; change both together.
var relevanceSet = []labelledQuery{
	{"something to keep my coffee hot", []string{"Thermos"}},
	{"headphones that block out airplane noise", []string{"Wireless Earbuds", "Noise-Cancelling Headset"}},
	{"charge my phone on the go", []string{"Power Bank"}},
	{"keep an eye on my front door", []string{"Security Camera"}},
	{"somewhere to sleep when camping", []string{"Tent", "Sleeping Bag"}},
	{"clean the floors automatically", []string{"Robot Vacuum"}},
	{"cut the grass without effort", []string{"Robotic Lawn Mower"}},
	{"heavy blanket that calms anxiety", []string{"Weighted Blanket"}},
	{"teach kids to program", []string{"Coding Robot"}},
	{"brush my teeth", []string{"Electric Toothbrush"}},
	{"count my steps and sleep", []string{"Fitness Tracker", "Smartwatch"}},
	{"work standing up", []string{"Standing Desk"}},
	{"water the plants while I am away", []string{"Drip Irrigation Kit", "Garden Hose"}},
	{"fries without oil", []string{"Air Fryer"}},
	{"remove pollen and dust from the air", []string{"Air Purifier"}},
	{"learn about artificial intelligence", []string{"Guide to Machine Learning"}},
	{"dry my hair quickly", []string{"Hair Dryer"}},
	{"a sharp knife for cooking", []string{"Chef's Knife"}},
	{"strong coffee at home", []string{"Espresso Machine"}},
	{"feed the birds in my garden", []string{"Bird Feeder"}},
	{"light for night hiking", []string{"Headlamp"}},
	{"drinking water from a stream", []string{"Water Filter"}},
	{"comfortable chair for long work days", []string{"Ergonomic Office Chair"}},
	{"a detective story", []string{"Mystery Novel"}},
	// Nothing in the catalog fits these.
	{"zzqxv", nil},
	{"asdf qwerty", nil},
	{"quiet keyboard for the office", nil},
	{"violin for beginners", nil},
	{"winter tyres for my car", nil},
	{"wedding dress", nil},
	{"insurance quote", nil},
	{"a bag of cement", nil},
}

// calibrationSize is the generated catalog the set is run on: every kind
// appears many times, so recall is measured over real neighbours.
const calibrationSize = 1500

// TestRelevanceFloor runs the labelled set on a generated catalog with the
// model of REFARCH_MODEL_DIR (else, and under -race, the hash test
// embedder), prints
// precision and recall for a range of floors and checks that the model's
// calibrated floor keeps both above their targets and hides every result of
// the queries nothing fits.
func TestRelevanceFloor(t *testing.T) {
	ctx := context.Background()
	var emb embedding.Embedder = embedding.NewHash(256)
	// Under -race the model takes minutes for the catalog: make test runs
	// this test a second time without -race, with the model.
	if dir := os.Getenv("REFARCH_MODEL_DIR"); dir != "" && !raceEnabled {
		var err error
		emb, err = embedding.Open(ctx, embedding.Options{Name: "use", ModelDir: dir})
		if err != nil {
			t.Fatal(err)
		}
	}
	cal, ok := search.CalibrationFor(emb.Model())
	if !ok {
		t.Fatalf("no calibration for %s", emb.Model())
	}
	ps := catalog.Generate(calibrationSize, 1)
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.EmbedText()
	}
	var vecs [][]float32
	for start := 0; start < len(texts); start += 100 {
		v, err := emb.Embed(ctx, texts[start:min(start+100, len(texts))])
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, v...)
	}
	queries := make([]string, len(relevanceSet))
	for i, lq := range relevanceSet {
		queries[i] = lq.q
	}
	qvecs, err := emb.Embed(ctx, queries)
	if err != nil {
		t.Fatal(err)
	}
	// Top 50 by cosine for each query, as the vector store would answer.
	type hit struct {
		score    float64
		relevant bool
	}
	const k = search.DefaultK
	tops := make([][]hit, len(relevanceSet))
	totalRelevant := 0
	for qi, lq := range relevanceSet {
		var hs []hit
		for pi, p := range ps {
			rel := slices.ContainsFunc(lq.relevant, func(noun string) bool { return strings.HasSuffix(nameKind(p.Name), noun) })
			hs = append(hs, hit{testkit.Cosine(qvecs[qi], vecs[pi]), rel})
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i].score > hs[j].score })
		tops[qi] = hs[:k]
		for _, h := range hs[:k] {
			if h.relevant {
				totalRelevant++
			}
		}
	}
	eval := func(floor float64) (precision, recall float64, shown, noFitShown int) {
		tp := 0
		for qi, lq := range relevanceSet {
			for _, h := range tops[qi] {
				if h.score < floor {
					continue
				}
				shown++
				if h.relevant {
					tp++
				}
				if lq.relevant == nil {
					noFitShown++
				}
			}
		}
		if shown > 0 {
			precision = float64(tp) / float64(shown)
		}
		if totalRelevant > 0 {
			recall = float64(tp) / float64(totalRelevant)
		}
		return precision, recall, shown, noFitShown
	}
	t.Logf("model %s: %d products, %d queries (%d with no fit), top %d each, %d relevant results in the tops",
		emb.Model(), len(ps), len(relevanceSet), countNoFit(), k, totalRelevant)
	t.Logf("%6s %9s %7s %6s %6s %12s", "floor", "precision", "recall", "F1", "shown", "no-fit shown")
	bestF1, bestFloor := 0.0, 0.0
	for f := 0.20; f <= 0.7501; f += 0.025 {
		p, r, n, nf := eval(f)
		t.Logf("%6.3f %9.3f %7.3f %6.3f %6d %12d", f, p, r, f1(p, r), n, nf)
		if f1(p, r) > bestF1 {
			bestF1, bestFloor = f1(p, r), f
		}
	}
	p, r, n, nf := eval(cal.Floor)
	t.Logf("calibrated floor %.2f (strong from %.2f): precision %.3f, recall %.3f, %d shown, %d of them for queries nothing fits",
		cal.Floor, cal.Strong, p, r, n, nf)
	// Per query: the best score, so a reader sees where each one falls.
	for qi, lq := range relevanceSet {
		best := tops[qi][0]
		t.Logf("  %-42q best %.3f (%s) %s", lq.q, best.score, mark(best.relevant), string(search.LabelFor(cal, best.score)))
	}
	// The floor is the one with the best F1 on the set (to 0.01), and it
	// still gives what the calibration records.
	if f1(p, r) < bestF1-0.01 {
		t.Errorf("floor %.3f has F1 %.3f, but floor %.3f has %.3f: recalibrate", cal.Floor, f1(p, r), bestFloor, bestF1)
	}
	if p < cal.Precision-0.005 || r < cal.Recall-0.005 {
		t.Errorf("floor %.3f gives precision %.3f and recall %.3f; the calibration records %.3f and %.3f", cal.Floor, p, r, cal.Precision, cal.Recall)
	}
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func mark(rel bool) string {
	if rel {
		return "relevant"
	}
	return "not relevant"
}

func countNoFit() int {
	n := 0
	for _, lq := range relevanceSet {
		if lq.relevant == nil {
			n++
		}
	}
	return n
}

// nameKind drops the name suffixes the generator adds ("Pro", "2.0").
func nameKind(name string) string {
	for _, s := range []string{" Pro", " Max", " Lite", " Plus", " 2.0", " Mini", " XL", " Elite", " Classic", " Go", " Air", " S"} {
		if strings.HasSuffix(name, s) {
			return strings.TrimSuffix(name, s)
		}
	}
	return name
}
