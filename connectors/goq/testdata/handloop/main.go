// Command handloop is the yardstick for the plan benchmark of a large GoQ
// export: a plain loop that decodes a CP932 export with x/text and
// encoding/csv and applies the seed rules by hand (store, status, updated
// within 4 days, ordered within 170 days, at 2026-11-28 JST). It prints the
// number of rows kept.
//
//	go run ./connectors/goq/testdata/handloop FILE
package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/transform"
)

func main() {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	updatedFloor := time.Date(2026, 11, 24, 0, 0, 0, 0, tokyo)
	orderedFloor := time.Date(2026, 6, 11, 0, 0, 0, 0, tokyo)
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer f.Close()
	r := csv.NewReader(transform.NewReader(f, japanese.ShiftJIS.NewDecoder()))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		panic(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	iStore, iStatus, iUpdated, iOrdered := col["販売店舗"], col["受注ステータス"], col["最終更新日時"], col["注文日"]
	kept := 0
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		if row[iStore] != "FutureShop 1号店" || row[iStatus] == "新規受付" || row[iStatus] == "キャンセル" {
			continue
		}
		updated, err := time.ParseInLocation("2006-01-02 15:04:05", row[iUpdated], tokyo)
		if err != nil || updated.Before(updatedFloor) {
			continue
		}
		ordered, err := time.ParseInLocation("2006-01-02 15:04:05", row[iOrdered], tokyo)
		if err != nil || ordered.Before(orderedFloor) {
			continue
		}
		kept++
	}
	fmt.Println(kept)
}
