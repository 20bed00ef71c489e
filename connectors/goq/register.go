package goq

import "github.com/goqsync/runner/engine"

// SourceInfo describes the source "goq_csv".
var SourceInfo = engine.SourceInfo{
	Name: "goq_csv",
	Doc:  "GoQ カスタムCSV order exports: a file, a glob or an inbox",
	Settings: []engine.Setting{
		{Name: "path", Doc: "a file or a glob; or inbox"},
		{Name: "inbox", Doc: "a directory whose every export is read; with archive, instead of path"},
		{Name: "archive", Doc: "where an inbox file moves once every order in it is settled"},
		{Name: "encoding", Doc: "auto (default), cp932 (also shift_jis, sjis, windows-31j) or utf-8 (also utf8)"},
		{Name: "optional", Doc: "fields whose columns may be missing"},
		{Name: "columns", Doc: "block: field = \"header\", for renamed headers"},
	},
	Fields: sourceFields(),
	New:    NewSource,
}

// DestinationInfo describes the destination "goq_csv". Its fields are the
// columns a job declares.
var DestinationInfo = engine.DestinationInfo{
	Name: "goq_csv",
	Doc:  "a CSV file for GoQ's order import, committed at the end of the run",
	Settings: []engine.Setting{
		{Name: "dir", Required: true, Doc: "the import directory; must exist"},
		{Name: "prefix", Doc: "the file name's prefix"},
		{Name: "encoding", Doc: "cp932 (default; also shift_jis, sjis, windows-31j) or utf-8 (also utf8)"},
		{Name: "columns", Required: true, Doc: "the fields a job may map, in file order"},
		{Name: "headers", Doc: "field = \"header\" for the header row"},
		{Name: "types", Doc: "field = string, int or date"},
		{Name: "key", Doc: "the fields that identify a record, default the first column"},
		{Name: "formula_guard", Doc: "prefix text cells Excel would run as formulas with ', default true"},
		{Name: "file_mode", Doc: "the file's permissions in octal, default \"0640\""},
	},
	New: NewDestination,
}

// Register adds the goq_csv source and destination to r.
func Register(r *engine.Registry) {
	r.RegisterSource(SourceInfo)
	r.RegisterDestination(DestinationInfo)
}
