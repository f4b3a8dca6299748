import { createHash } from 'node:crypto';
import { CONSOLE_SCRIPT } from './console-script.js';
import { CONSOLE_CSS } from './console-style.js';

const BODY = `
<header>
  <h1>Celeriac config center</h1>
  <nav aria-label="Views" id="views">
    <button type="button" id="tab-nodes">Nodes</button>
    <button type="button" id="tab-layers">Layers</button>
    <button type="button" id="tab-history">History</button>
  </nav>
  <div id="session" class="row" hidden>
    <span id="who">Signed in as <strong id="who-name"></strong> (<span id="who-role"></span>)<span id="who-masked"></span></span>
    <button type="button" id="sign-out">Sign out</button>
  </div>
</header>
<main>
  <section id="sign-in-view" class="panel" aria-labelledby="sign-in-title">
    <h2 id="sign-in-title">Sign in</h2>
    <form id="sign-in-form">
      <label for="token-input">Token</label>
      <input id="token-input" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Sign in</button>
      <p class="muted">An admin, operator or viewer token. It stays in this tab (session storage) until you sign out or close the tab. <code>celeriac center</code> prints the first admin token; admins make others with <code>POST /v1/tokens</code>.</p>
      <p id="sign-in-error" class="alert" role="alert"></p>
    </form>
  </section>
  <div id="app" hidden>
    <p id="error" class="alert" role="alert"></p>
    <section id="nodes-view" aria-labelledby="nodes-title" hidden>
      <div class="row"><h2 id="nodes-title">Nodes</h2><span id="nodes-updated" class="muted" aria-live="off"></span></div>
      <div id="nodes-list"></div>
    </section>
    <section id="layers-view" aria-labelledby="layers-title" hidden>
      <h2 id="layers-title">Layers</h2>
      <div class="layers-grid">
        <div class="panel">
          <h3>Layers</h3>
          <ul id="layer-list"></ul>
          <form id="open-layer-form">
            <label for="layer-name">Open or create a layer</label>
            <input id="layer-name" type="text" placeholder="defaults, groups/web, nodes/web-1" spellcheck="false">
            <button type="submit" class="secondary">Open</button>
          </form>
        </div>
        <div id="editor" class="panel" hidden>
          <h3 id="editor-title"></h3>
          <p id="editor-revision" class="muted"></p>
          <p id="read-only-note" class="muted" hidden>Read only: your token may read the config but not change it.</p>
          <label for="layer-doc">Layer document (JSON)</label>
          <textarea id="layer-doc" spellcheck="false" autocomplete="off"></textarea>
          <label for="change-message">Change message</label>
          <input id="change-message" type="text" placeholder="why (recorded in history)">
          <div class="row">
            <button type="button" id="save-layer">Save</button>
            <button type="button" id="reload-layer" class="secondary">Reload</button>
          </div>
        </div>
        <div id="editor-feedback" aria-live="polite"></div>
      </div>
    </section>
    <section id="history-view" aria-labelledby="history-title" hidden>
      <div class="row">
        <h2 id="history-title">History</h2>
        <label for="history-filter">Layer</label>
        <select id="history-filter"><option value="">all layers</option></select>
      </div>
      <p id="history-status" class="notice" role="status"></p>
      <ol id="history-list"></ol>
    </section>
  </div>
</main>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The whole console: one self-contained HTML document with inline style and script. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Celeriac config center</title>
<link rel="icon" href="data:,">
<style>${CONSOLE_CSS}</style>
</head>
<body>${BODY}<script>${CONSOLE_SCRIPT}</script>
</body>
</html>
`;

/** Allows exactly the inline style and script above, and API calls to the same origin. */
export const CONSOLE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(CONSOLE_SCRIPT)}`,
  `style-src ${sha256(CONSOLE_CSS)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
