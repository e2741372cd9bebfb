package indexstate

// SummarySQL is Summarize's statement, for the test that reads its plan.
const SummarySQL = summarySQL
