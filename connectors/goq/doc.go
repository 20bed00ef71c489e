// Package goq is the GoQSystem connector: it reads GoQ's カスタムCSV order
// exports (source "goq_csv") and writes CSV files for GoQ's order import
// (destination "goq_csv"). Register adds both to an engine.Registry.
//
// GoQ publishes no order API, so files are the whole interface. The package
// is not a GoQ client, does not know which orders a job wants (that is the
// job's filters), and does not record results (that is the engine's
// ledger).
//
// # Source
//
//	source "goq_csv" {
//	  path     = "exports/*.csv" # a file or a glob, relative to the working directory
//	  # or: inbox = "in", archive = "done"
//	  encoding = "auto"          # "cp932" (= "shift_jis") or "utf-8"
//	  optional = ["note"]        # fields whose column may be missing from the file
//	  columns {                  # the account's header names, where they differ
//	    tracking_no = "伝票番号"
//	  }
//	}
//
// Records have these fields (the names are fixed; the headers are GoQ's
// defaults, each renamable in columns):
//
//	goq_no         string  GoQ番号
//	order_no       string  受注番号 (Label; required, never optional)
//	store          string  販売店舗
//	ordered_at     time    注文日
//	status         string  受注ステータス
//	updated_at     time    最終更新日時
//	shipped_on     date    出荷日
//	carrier        string  配送会社
//	tracking_no    string  お荷物伝票番号
//	delivery_date  date    お届け指定日
//	delivery_time  string  お届け時間帯
//	note           string  備考
//
// Every field's column must be in the file unless the job lists the field
// in optional (an absent optional column leaves the field unset). Columns
// the schema does not map may be absent, repeated or anything else; a
// mapped header that is missing or repeated stops Open with an error naming
// the file, the header and the headers found. Open checks the header of
// every input before the first record, so a changed template fails the
// run, not half of it.
//
// Times accept 2026-11-21 14:03:11, 2026-11-21 14:03, the same with "/",
// without zero padding (as Excel saves them) and a bare date (midnight);
// dates accept 2026-11-21 and 2026/11/21, with a trailing 0:00[:00]
// tolerated. All are in the job's time zone. An empty cell, and the
// database "no date" 0000-00-00, leave the field unset: never a zero time.
// Strings are kept as in the file, except that encoding/csv turns CRLF
// inside a quoted cell into LF. A row of bare commas (Excel's blank line) is
// skipped; a row without an order number, with the wrong number of cells,
// with malformed quoting or with a value that does not parse is a
// *engine.RecordError naming the file and the row's first line
// ("orders.csv:14"), and the rows after it are still read.
//
// # Encoding
//
// CSV is parsed on the raw bytes, streaming: no byte of a CP932 double-byte
// character is a comma, a quote, CR or LF. Only the cells the schema maps
// are decoded, and ASCII cells need no decoding, which is why the reader
// keeps up with a loop that decodes the whole file. "auto" takes a UTF-8
// BOM, or a first 64 KiB that is valid UTF-8 with some non-ASCII, as UTF-8,
// and anything else with non-ASCII as CP932; an all-ASCII start is decided
// at the first non-ASCII row.
//
// CP932 is decoded with golang.org/x/text's Shift_JIS decoder, which
// implements Microsoft's table, the one Windows, Excel and GoQ's exports
// use: 0x8160 is U+FF5E FULLWIDTH TILDE ～ (not U+301C WAVE DASH), 0x817C
// U+FF0D, 0x8161 U+2225, 0x815F U+FF3C, 0x8191/0x8192/0x81CA
// U+FFE0/U+FFE1/U+FFE2, and the NEC and IBM extensions (①, ㈱, 髙)
// decode. That is what a Windows user and iconv -f CP932 see, and it
// round-trips byte for byte through the writer. Bytes that are not CP932
// are an error for the row, never a silent U+FFFD.
//
// # Overlapping exports
//
// When a glob or inbox yields several files, Open first reads the order
// number and 最終更新日時 of every row (a cheap pass that decodes nothing
// else; memory proportional to the number of distinct orders, under 100
// bytes each). Per order, the file holding the row with the latest update
// wins (on a tie, the later file by name); each row of that order in other
// files comes out with Meta.Skip = "superseded by FILE:LINE (updated …)".
// Rows of one file are never deduplicated against each other: a template
// with one row per product line repeats the order number. With a single
// file there is no first pass.
//
// # Inbox and archive
//
// With inbox and archive, the source reads the *.csv files of the inbox in
// name order (dot files are ignored, so an exporter can write ".x.csv" and
// rename it in; a file must be complete when it appears). An empty inbox is
// a run with nothing to do. Nothing moves during a run: Rows.Files lists
// what was read, and once every order of a file has a recorded result the
// engine calls Source.Archive for it. Archive links the file into the
// archive directory and then unlinks it from the inbox (a rename that
// cannot replace an existing file; never a copy), so after a crash at any
// point the file is whole in the inbox, the archive or both, and a file
// still in the inbox is simply read again. Two runs must not share an
// inbox at the same time.
//
// # Destination
//
//	destination "goq_csv" {
//	  dir      = "out"                   # must exist
//	  prefix   = "futureshop-orders-"    # file name: prefix + yyyymmdd-hhmmss + ".csv"
//	  encoding = "cp932"                 # the default; or "utf-8" (no BOM)
//	  columns  = ["order_no", "line_no", "product_name", "unit_price"]
//	  headers  = { order_no = "受注番号", unit_price = "単価" } # default: the field name
//	  types    = { line_no = "int", unit_price = "int" }       # default "string"; or "date"
//	  key      = ["order_no", "line_no"]                       # default: the first column
//	}
//
// The columns are the fields a job may map, in file order; the engine
// converts mapped values to each column's type; unmapped or nil values are
// written empty; key columns must be mapped. Rows go to a hidden temporary
// file in dir, with CRLF line ends. A value CP932 cannot hold (𠮷, emoji)
// fails that record permanently with a message naming the order key, the
// column and the character; Unicode's JIS twins of CP932 characters
// (〜 U+301C, − U+2212, ‖, ¢, £, ¬, —) are written as their CP932 forms,
// ¥ as 0x5C and ‾ as 0x7E, as Windows does. Close truncates the file to its
// last whole batch, syncs it and links it to its final name in the job's
// time zone, never replacing a file (a second run in the same second gets
// "-2"); a run that wrote no row leaves no file. The destination has no
// post-export actions.
package goq
