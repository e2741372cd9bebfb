package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sample is one point of the status chart.
type Sample struct {
	At   time.Time
	Rate float64 // index writes per second over the last few seconds
	Lag  float64 // freshness lag in seconds
}

// Stat is one number on the status page, with one line saying what it
// means.
type Stat struct {
	Label   string
	Value   int64
	Warn    bool
	Explain string
}

// StatusView is the status page.
type StatusView struct {
	Stats       []Stat
	LagSeconds  float64
	Model       string
	VectorStore string
	Samples     []Sample
	// SearchIndex is the vector search index's state; nil hides it.
	SearchIndex *SearchIndex
	// Generations are the index generations; the section shows only when
	// there is more than one (a model change under way).
	Generations []Generation
	Error       string
	// Outage is shown as a banner: held messages heal by themselves.
	Outage string
	// UpdatedAt is when the figures were read.
	UpdatedAt time.Time
	// Admin are the index generation actions; zero hides them.
	Admin IndexAdmin
	// Notice says what the last action did; ActionError why it was refused.
	Notice, ActionError string
}

// IndexAdmin is what the status page's generation actions need.
type IndexAdmin struct {
	// Enabled is true when this server can change generations.
	Enabled bool
	// CanWrite is true when writes are open or the visitor signed in.
	CanWrite bool
	CSRF     string
	// Embedders are the kinds the create form offers, and its defaults
	// (the configured embedder).
	Embedders          []string
	DefaultEmbedder    string
	DefaultHashDim     int
	DefaultOllamaModel string
}

// Updated is the time of the figures, for people.
func (v StatusView) Updated() string {
	if v.UpdatedAt.IsZero() {
		return ""
	}
	return v.UpdatedAt.UTC().Format("15:04:05 UTC")
}

// chart is one series drawn in its own box, with axes, unit and time.
type chart struct {
	Title, Unit, Explain string
	Points               string
	// Max is the top of the y axis; the bottom is 0.
	Max        float64
	Start, End string // x axis labels: time of the first and last sample
	Label      string // the chart in words, for screen readers
	Last       float64
}

// Chart geometry: the plot area inside the 320x150 viewBox of Chart, with
// room for the axis labels.
const (
	plotLeft, plotRight     = 44.0, 312.0
	plotTop, plotBottomLine = 10.0, 124.0
)

func (v StatusView) charts() []chart {
	return []chart{
		v.series("Index writes", "per second", "Products written to the search index per second, over the last 10 seconds.", func(s Sample) float64 { return s.Rate }),
		v.series("Freshness lag", "seconds", "Age of the oldest edit not yet searchable; 0 when the index is up to date.", func(s Sample) float64 { return s.Lag }),
	}
}

func (v StatusView) series(title, unit, explain string, val func(Sample) float64) chart {
	c := chart{Title: title, Unit: unit, Explain: explain}
	for _, s := range v.Samples {
		c.Max = max(c.Max, val(s))
	}
	c.Max = niceCeil(c.Max)
	n := len(v.Samples)
	first, last := v.Samples[0].At, v.Samples[n-1].At
	span := last.Sub(first).Seconds()
	var b strings.Builder
	for _, s := range v.Samples {
		x := plotLeft
		if span > 0 {
			x += (plotRight - plotLeft) * s.At.Sub(first).Seconds() / span
		}
		y := plotBottomLine - (plotBottomLine-plotTop)*val(s)/c.Max
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	c.Points = strings.TrimSpace(b.String())
	c.Start, c.End = first.UTC().Format("15:04:05"), last.UTC().Format("15:04:05 UTC")
	c.Last = val(v.Samples[n-1])
	c.Label = fmt.Sprintf("%s from %s to %s: now %s %s, at most %s", title, c.Start, c.End, num(c.Last), unit, num(c.Max))
	return c
}

// niceCeil rounds a chart's top up to 1, 2 or 5 times a power of ten.
func niceCeil(f float64) float64 {
	if f <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(f)))
	for _, m := range []float64{1, 2, 5, 10} {
		if f <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func seconds(f float64) string {
	if f <= 0 {
		return "0 s"
	}
	return num(f) + " s"
}

// Generation is one index generation on the status page.
type Generation struct {
	Name, Model, Store, State string
	Dims                      int
	Indexed, Total            int64
	Percent, Rate, ETASeconds float64
}

// Label says how far the generation is.
func (g Generation) Label() string {
	s := fmt.Sprintf("%s of %s rows (%.0f%%)", idStr(g.Indexed), idStr(g.Total), g.Percent)
	if g.State == "building" && g.ETASeconds > 0 {
		s += fmt.Sprintf(", %.0f per second, about %s left", g.Rate, seconds(g.ETASeconds))
	}
	return s
}

// Actionable reports whether the generation can be promoted or dropped
// (the active one is promoted already and cannot be dropped; a dropping
// one is on its way out).
func (g Generation) Actionable() bool { return g.State == "building" || g.State == "retired" }

func (g Generation) value() string { return fmt.Sprintf("%.1f", g.Percent) }

// SearchIndex is the state of the vector search index for the status page:
// State is "ready", "building" or "missing".
type SearchIndex struct {
	State       string
	Phase       string
	Done, Total int64
	Percent     float64
	ETASeconds  float64
}

// Label says in words what the index is doing.
func (si SearchIndex) Label() string {
	switch si.State {
	case "ready":
		return "Ready: searches use the index."
	case "building":
		s := fmt.Sprintf("Building: %s of %s vectors (%.0f%%)", idStr(si.Done), idStr(si.Total), si.Percent)
		if si.ETASeconds > 0 {
			s += ", about " + seconds(si.ETASeconds) + " left"
		}
		return s + ". Searches meanwhile rank only part of the catalog."
	}
	return "Not built: searches rank only part of the catalog until it is."
}

func (si SearchIndex) value() string { return strconv.FormatFloat(si.Percent, 'f', 1, 64) }
