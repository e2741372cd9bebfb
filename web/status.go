package web

import (
	"fmt"
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

// Stat is one number on the status page.
type Stat struct {
	Label string
	Value int64
	Warn  bool
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
	Error       string
	// Outage is shown as a banner: held messages heal by themselves.
	Outage string
}

// chart is the status chart drawn as two polylines in a 600x160 box.
type chart struct {
	RatePoints, LagPoints string
	MaxRate, MaxLag       float64
	Label                 string
}

func (v StatusView) chart() chart {
	c := chart{}
	for _, s := range v.Samples {
		c.MaxRate = max(c.MaxRate, s.Rate)
		c.MaxLag = max(c.MaxLag, s.Lag)
	}
	const w, h, pad = 600.0, 160.0, 8.0
	n := len(v.Samples)
	points := func(val func(Sample) float64, top float64) string {
		if top <= 0 {
			top = 1
		}
		var b strings.Builder
		for i, s := range v.Samples {
			x := w * float64(i) / float64(max(1, n-1))
			y := h - pad - (h-2*pad)*val(s)/top
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		return strings.TrimSpace(b.String())
	}
	c.RatePoints = points(func(s Sample) float64 { return s.Rate }, c.MaxRate)
	c.LagPoints = points(func(s Sample) float64 { return s.Lag }, c.MaxLag)
	last := v.Samples[n-1]
	c.Label = fmt.Sprintf("Last %d samples: now %s index writes per second and %s seconds of lag", n, num(last.Rate), num(last.Lag))
	return c
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func seconds(f float64) string {
	if f <= 0 {
		return "0 s"
	}
	return num(f) + " s"
}

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
