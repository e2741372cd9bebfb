package pgqueue

// DepthSQL and DepthHead let the tests explain Depth's statement.
func DepthSQL(q *Queue) string { return q.sql.depth }

const DepthHead = depthHead
