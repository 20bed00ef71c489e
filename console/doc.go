// Package console is runner serve's operator console: server-rendered web
// pages, in Japanese by default and in English, for the shop staff who
// press 「発送情報の更新」 and will not use a terminal. It shows the jobs
// (ジョブ), what a job would send now (プレビュー, the plan the CLI's
// `runner plan` prints), past and running runs (実行履歴), parked orders
// that need a person (要対応, with retry and resolve) and an order's story
// across runs (注文検索).
//
// It is a view over what serve already has: the ledger, the scheduler and
// the loaded jobs. It computes nothing the CLI or the API computes
// differently: plans come from engine.Job.Plan, runs from the scheduler's
// RunNow, retry and resolve from package parked. It is not the API (JSON
// for machines, package scheduler) and holds no state of its own but a
// run's latest progress.
//
// Pages are html/template with the stylesheet and a few lines of
// JavaScript embedded in the binary: no CDN, no build step. Everything but
// live updates works without JavaScript. With an API token set (required
// off loopback) a person signs in once with the token, kept as a signed,
// HttpOnly, SameSite=Strict session cookie; every form that changes
// something carries a CSRF token, and the Content-Security-Policy allows
// no inline script.
//
// console.go holds the handler and its routes; auth.go the sign-in,
// session and CSRF; lang.go and i18n/ the catalogues; pages.go the pages;
// preview.go the plan as a page; apply.go what 「この内容で実行」 does;
// progress.go a run's latest progress; words.go schedules and durations
// in words.
package console
