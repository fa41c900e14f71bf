package report

import "html/template"

// pageTemplate is index.html: everything inline, nothing from the network.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — Workbench notebook</title>
<style>` + css + `</style>
</head>
<body>
<header>
<p class="kicker">Workbench notebook</p>
<h1>{{.Title}}</h1>
<p class="cmd"><code>{{.Command}}</code></p>
</header>
{{if .Headlines}}<section class="summary" aria-label="Key numbers">
<h2 class="plain">Key numbers</h2>
<dl>{{.Headlines}}</dl>
</section>{{end}}
{{if .TOC}}<nav aria-label="Contents"><ol>{{range .TOC}}<li><a href="#{{.ID}}">{{.Title}}</a></li>{{end}}</ol></nav>{{end}}
<main>
{{range .Body}}{{.}}
{{end}}</main>
<footer>{{.Footer}}</footer>
</body>
</html>
`))

const css = `
:root { --ink: #1d2330; --muted: #5b6472; --rule: #d9dde3; --accent: #2f5fb3; --bg-code: #f5f6f8; --note: #fff7e0; }
* { box-sizing: border-box; }
body { margin: 0 auto; padding: 2rem 1.5rem 4rem; max-width: 72rem; color: var(--ink); background: #fff;
  font: 17px/1.6 "Source Serif Pro", Georgia, "Times New Roman", serif; }
header, main > p, main > ul, main > h2, main > h3, main > .note, nav, .summary, footer { max-width: 46rem; }
h1, h2, h3, .kicker, .summary, nav, figcaption, table, footer { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; }
h1 { font-size: 2rem; line-height: 1.2; margin: .2rem 0 .5rem; }
h2 { font-size: 1.35rem; margin: 2.6rem 0 .6rem; padding-top: .4rem; border-top: 1px solid var(--rule); }
h2.plain { border: 0; margin: 0 0 .5rem; padding: 0; font-size: 1rem; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
h3 { font-size: 1.1rem; margin: 1.8rem 0 .4rem; }
.kicker { margin: 0; color: var(--accent); font-size: .85rem; text-transform: uppercase; letter-spacing: .08em; }
.cmd { margin: 0; }
code { font: .88em/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; background: var(--bg-code); padding: .05em .3em; border-radius: 3px; }
pre { font: 13.5px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; tab-size: 4; overflow-x: auto;
  background: var(--bg-code); border: 1px solid var(--rule); border-radius: 4px; padding: .8rem 1rem; margin: 1rem 0; }
pre code { background: none; padding: 0; font-size: inherit; }
pre.code { border-left: 4px solid var(--accent); }
pre.out { background: #fbfbfb; }
.c { color: #6a737d; font-style: italic; } .s { color: #22863a; } .n { color: #b05a00; } .k { color: #8a3ab9; font-weight: bold; }
.summary { background: #f0f4fb; border: 1px solid #c9d6ee; border-radius: 6px; padding: 1rem 1.2rem; margin: 1.5rem 0; }
.summary dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: .6rem 1.2rem; margin: 0; }
.summary dt { font-size: .8rem; color: var(--muted); }
.summary dd { margin: 0; font-size: 1.25rem; font-weight: bold; font-variant-numeric: tabular-nums; }
nav ol { margin: .5rem 0 0; padding-left: 1.4rem; columns: 2; font-size: .95rem; }
nav a { color: var(--accent); text-decoration: none; }
.note { background: var(--note); border-left: 4px solid #e0a800; padding: .7rem 1rem; margin: 1.2rem 0; border-radius: 0 4px 4px 0; }
.measured { color: #555; font-size: .92em; }
.claim.failed { border-left: 4px solid #c0392b; padding-left: .8rem; }
.claim.unchecked { border-left: 4px solid #999; padding-left: .8rem; color: #555; }
figure { margin: 1.4rem 0; max-width: 100%; }
figure svg, figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { font-size: .88rem; color: var(--muted); margin-top: .4rem; max-width: 46rem; }
.row { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
.row figure { flex: 1 1 20rem; margin: .6rem 0; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .92rem; }
caption { text-align: left; color: var(--muted); font-size: .88rem; padding-bottom: .3rem; }
th, td { padding: .3rem .8rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { border-bottom: 2px solid var(--ink); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
footer { margin-top: 3rem; padding-top: .8rem; border-top: 1px solid var(--rule); color: var(--muted); font-size: .8rem; }
@media print { nav { display: none; } body { max-width: none; } }
`
