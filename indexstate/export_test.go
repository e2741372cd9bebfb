package indexstate

// SummarySQL and FoldSQL are the statements of Summarize and Fold, for the
// test that reads their plans.
const (
	SummarySQL = summarySQL
	FoldSQL    = foldSQL
)
