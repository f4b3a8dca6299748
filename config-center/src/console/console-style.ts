/** The console's stylesheet, inlined into the page (no external assets). */
export const CONSOLE_CSS = `
:root {
  color-scheme: light;
  --ink: #1d2430; --muted: #5b6575; --line: #d5dae2; --paper: #ffffff; --ground: #f3f5f8;
  --accent: #1f5fbf; --ok: #17653a; --ok-bg: #dcf3e4; --warn: #7a4a00; --warn-bg: #fdf0d2;
  --bad: #a31b1b; --bad-bg: #fbe1e1; --idle: #4a5260; --idle-bg: #e6e9ee;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--ground); }
header { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: center; padding: 0.6rem 1.25rem; background: #17202e; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; font-weight: 600; }
header nav { display: flex; gap: 0.25rem; }
header nav button { background: transparent; color: #d8e1ee; border: 1px solid transparent; }
header nav button[aria-current="page"] { background: #fff; color: #17202e; }
#session { margin-left: auto; }
#who { font-size: 0.9rem; color: #d8e1ee; }
#who strong { color: #fff; }
header #sign-out { background: transparent; color: #fff; border-color: #6c7a90; }
main { padding: 1rem 1.25rem 3rem; max-width: 110rem; margin: 0 auto; }
h2 { font-size: 1.15rem; margin: 0.25rem 0 0.75rem; }
h3 { font-size: 1rem; margin: 0 0 0.5rem; }
button { font: inherit; padding: 0.3rem 0.8rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: var(--paper); color: var(--accent); }
button:disabled { opacity: 0.5; cursor: not-allowed; }
button:focus-visible, input:focus-visible, textarea:focus-visible, select:focus-visible { outline: 3px solid #7fb0ff; outline-offset: 1px; }
input, select, textarea { font: inherit; padding: 0.3rem 0.45rem; border: 1px solid #aab3c0; border-radius: 4px; background: var(--paper); color: var(--ink); }
label { font-weight: 600; font-size: 0.9rem; }
code, textarea, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.85rem; }
.panel { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; }
.muted { color: var(--muted); }
.row { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }
.alert { margin: 0 0 1rem; padding: 0.6rem 0.8rem; border-radius: 4px; background: var(--bad-bg); color: var(--bad); border: 1px solid #e9a7a7; }
.notice { margin: 0.75rem 0 0; padding: 0.6rem 0.8rem; border-radius: 4px; background: var(--ok-bg); color: var(--ok); border: 1px solid #9fd3b2; }
.alert:empty, .notice:empty { display: none; }
#sign-in-view { max-width: 32rem; margin: 3rem auto; }
#sign-in-form { display: grid; gap: 0.5rem; }
table { border-collapse: collapse; width: 100%; background: var(--paper); }
th, td { text-align: left; vertical-align: top; padding: 0.4rem 0.55rem; border-bottom: 1px solid var(--line); }
thead th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); background: #f8f9fb; }
tbody th { font-weight: 600; }
tbody th .muted { font-weight: 400; font-size: 0.85rem; }
td.num { font-variant-numeric: tabular-nums; }
td.nowrap, td.num { white-space: nowrap; }
caption { text-align: left; padding: 0 0 0.35rem; }
table.programs { background: transparent; }
table.programs thead th { background: transparent; font-size: 0.72rem; }
table.programs td, table.programs th { padding: 0.2rem 0.45rem; border-bottom-color: #eceff3; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.8rem; font-weight: 600; background: var(--idle-bg); color: var(--idle); }
.badge.good { background: var(--ok-bg); color: var(--ok); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.layers-grid { display: grid; grid-template-columns: 15rem minmax(0, 1fr) 24rem; gap: 1rem; align-items: start; }
@media (max-width: 70rem) { .layers-grid { grid-template-columns: 1fr; } }
#layer-list { list-style: none; margin: 0 0 1rem; padding: 0; display: grid; gap: 0.25rem; }
#layer-list button { width: 100%; text-align: left; background: var(--paper); color: var(--ink); border-color: var(--line); }
#layer-list button[aria-current="true"] { border-color: var(--accent); background: #e8f0fc; }
#open-layer-form { display: grid; gap: 0.35rem; }
#editor { display: grid; gap: 0.5rem; }
#layer-doc { width: 100%; min-height: 28rem; resize: vertical; }
#editor-feedback { display: grid; gap: 0.75rem; min-width: 0; }
#editor-feedback code, #editor-feedback td { overflow-wrap: anywhere; }
#editor-feedback > div { padding: 0.75rem; border-radius: 6px; border: 1px solid var(--line); background: var(--paper); }
#editor-feedback .issues { border-color: #e9a7a7; background: var(--bad-bg); }
#editor-feedback .conflict { border-color: #e6c277; background: var(--warn-bg); }
#editor-feedback ul { margin: 0.4rem 0 0; padding-left: 1.1rem; }
#editor-feedback li { margin-bottom: 0.35rem; }
.diff { margin-top: 0.5rem; }
.diff td { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8rem; word-break: break-all; }
.diff .before { color: var(--bad); }
.diff .after { color: var(--ok); }
#history-list { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.75rem; }
.revision-head { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: baseline; }
.revision .message { margin: 0.35rem 0; }
.badge.current { background: #e8f0fc; color: var(--accent); }
.rollback-form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin-top: 0.5rem; }
.rollback-form input { min-width: 22rem; }
`;
