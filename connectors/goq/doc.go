// Package goq is the GoQSystem connector: it reads GoQ's カスタムCSV order
// exports (source "goq_csv") and writes CSV files for GoQ's order import
// (destination "goq_csv").
//
// GoQ publishes no order API, so files are the whole interface. The reader
// takes a file, a glob or an inbox directory; detects or is told the
// encoding (CP932 or UTF-8, with or without BOM); maps the header names of
// the account's template to fixed field names (see Source.Fields); types
// dates and timestamps in the job's zone; and streams rows, so memory does
// not grow with the file. A bad row is a *engine.RecordError naming the
// file and line; the rows after it are still read.
//
// # Encoding
//
// CSV is parsed on the raw bytes: no byte of a CP932 double-byte character
// is a comma, a quote, CR or LF. Only the cells the schema maps are decoded,
// with golang.org/x/text's Shift_JIS decoder, which implements Microsoft's
// CP932 table (the one Windows, Excel and GoQ's exports use): 0x8160 is
// U+FF5E FULLWIDTH TILDE ～ (not U+301C WAVE DASH), 0x817C is U+FF0D,
// 0x8161 is U+2225, 0x8191/0x8192/0x81CA are U+FFE0/U+FFE1/U+FFE2, and the
// NEC and IBM extensions (①, ㈱, 髙) decode. That is what iconv -f CP932
// and a Windows user see, and it round-trips byte for byte through the
// writer. Bytes that are not valid CP932 are an error for the row, never a
// silent U+FFFD.
//
// # Columns
//
// Every field the schema declares must have its column in the file, unless
// the job lists it in optional; a header the schema does not map may be
// absent, repeated or anything else. A missing or repeated mapped header
// stops Open with an error naming the file and the headers it found.
//
// # Overlapping exports
//
// When a glob or inbox yields several files, Open first reads the order
// number and 最終更新日時 of every row (a cheap pass that decodes nothing
// else; memory proportional to the number of distinct orders, about 80
// bytes each). Per order, the file holding the row with the latest update
// wins (on a tie, the later file by name); every row of that order in other
// files comes out with Meta.Skip saying which row superseded it. Rows of one
// file are never deduplicated against each other: a template with one row
// per product line repeats the order number.
//
// # Inbox and archive
//
// With inbox and archive, the source reads the *.csv files of the inbox
// (dot files are ignored, so an exporter can write ".x.csv" and rename it
// in). Nothing moves during a run. Once every order of a file has a
// recorded result, the engine calls Source.Archive for it; Archive renames
// the file into the archive directory (never copy and delete, never
// overwrite), so after a crash at any point the file is in the inbox or in
// the archive, and a file still in the inbox is simply read again.
//
// The package is not a GoQ client, does not know which orders a job wants
// (that is the job's filters) and does not record results (that is the
// engine's ledger).
package goq
