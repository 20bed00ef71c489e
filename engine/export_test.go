package engine

import "time"

// EvalFunc exposes the per-record filter+map step to benchmarks in
// package engine_test, which may import the real connectors.
func (j *Job) EvalFunc() func(rec Record) Status {
	e, err := j.newEvaluator(j.now(time.Time{}))
	if err != nil {
		panic(err)
	}
	var it Item
	return func(rec Record) Status {
		// The reader fills the evaluator's record in place; here the
		// benchmark's record stands in for it.
		rec["vars"] = j.vars
		e.rec = rec
		it = Item{}
		e.eval(&it)
		return it.Status
	}
}

// CompileForRun compiles the job's expressions as a run does, for
// BenchmarkRunCompile.
func (j *Job) CompileForRun() error {
	_, err := j.programs(newClock(j.now(time.Time{}), j.Location))
	return err
}
