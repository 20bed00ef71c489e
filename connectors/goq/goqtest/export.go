package goqtest

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"golang.org/x/text/encoding/japanese"
)

// WriteExport writes a CP932 export of n rows shaped like the shared
// sample: three stores, a handful of statuses and carriers, timestamps
// spread over a year before 2026-11-28 10:00 JST, some notes (one spanning
// two lines) and delivery slots. The same n always gives the same bytes.
func WriteExport(out io.Writer, n int) error {
	w := bufio.NewWriterSize(out, 1<<20)
	enc := japanese.ShiftJIS.NewEncoder()
	var encErr error
	sjis := func(s string) string {
		e, err := enc.String(s)
		if err != nil && encErr == nil {
			encErr = fmt.Errorf("encode %q: %w", s, err)
		}
		return e
	}
	w.WriteString(sjis("GoQ番号,受注番号,販売店舗,注文日,受注ステータス,最終更新日時,出荷日,配送会社,お荷物伝票番号,お届け指定日,お届け時間帯,備考\r\n"))
	stores := []string{sjis("FutureShop 1号店"), sjis("楽天市場店"), sjis("Yahoo!ショッピング店")}
	statuses := []string{sjis("出荷済み"), sjis("新規受付"), sjis("キャンセル"), sjis("発送待ち"), sjis("★発送済み")}
	carriers := []string{sjis("ヤマト運輸"), sjis("佐川急便"), sjis("日本郵便")}
	slots := []string{"", sjis("午前中"), sjis("14時～16時"), sjis("18時～20時")}
	notes := []string{"", "", "", sjis("ギフト包装"), sjis("\"のし\"\"御歳暮\"\"\n2行目\"")}
	if encErr != nil {
		return encErr
	}
	tokyo := time.FixedZone("JST", 9*60*60)
	base := time.Date(2026, 11, 28, 10, 0, 0, 0, tokyo)
	for i := 0; i < n; i++ {
		ordered := base.Add(-time.Duration(i%365*24+i%24) * time.Hour)
		updated := base.Add(-time.Duration(i%10*24+i%60) * time.Hour)
		shipped, delivery := "", ""
		if i%3 != 0 {
			shipped = updated.Format("2006-01-02")
		}
		if i%4 == 0 {
			delivery = updated.AddDate(0, 0, 2).Format("2006/01/02")
		}
		fmt.Fprintf(w, "%d,1%011d,%s,%s,%s,%s,%s,%s,%012d,%s,%s,%s\r\n",
			200000+i, i, stores[i%len(stores)], ordered.Format("2006-01-02 15:04:05"),
			statuses[i%len(statuses)], updated.Format("2006-01-02 15:04:05"), shipped,
			carriers[i%len(carriers)], int64(i)*7919%1_000_000_000_000, delivery,
			slots[i%len(slots)], notes[i%len(notes)])
	}
	return w.Flush()
}
