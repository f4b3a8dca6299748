// The console's entry point: sign-in and sign-out, the three views, and the page's controls.
import { api, clearError, describe, session } from './api.js';
import { byId } from './dom.js';
import { refreshHealth, selectHealthNode, stopHealth } from './health-view.js';
import { loadHistory, setHistoryFilter } from './history-view.js';
import { closeEditor, loadLayerList, openLayer, openLayerName, saveLayer } from './layers-view.js';
import { refreshNodes, stopNodes } from './nodes-view.js';
import { refreshRollouts, stopRollouts } from './rollouts-view.js';
import { clearTokens, createToken, loadTokens } from './tokens-view.js';

const TOKEN_KEY = 'celeriac.console.token';
const VIEWS = ['nodes', 'layers', 'history', 'rollouts', 'health', 'tokens'];
/** Views that refresh themselves: started when shown, stopped when another view is. */
const LIVE = { nodes: refreshNodes, rollouts: refreshRollouts, health: refreshHealth };

function stopLiveViews() {
  stopNodes();
  stopRollouts();
  stopHealth();
}
const page = { view: 'nodes' };

async function signIn(token) {
  session.token = token;
  const who = await api('GET', '/v1/whoami');
  if (!who.may.read_config && !who.may.read_nodes) {
    session.token = null;
    throw new Error(
      `a token with the ${who.role} role cannot use the console; sign in with an admin, operator or viewer token`,
    );
  }
  session.who = who;
  sessionStorage.setItem(TOKEN_KEY, token);
  byId('who-name').textContent = who.name;
  byId('who-role').textContent = who.role;
  byId('who-masked').textContent = who.secrets_masked ? ' · secrets masked' : '';
  byId('tab-tokens').hidden = !who.may.manage_tokens;
  byId('sign-in-view').hidden = true;
  byId('app').hidden = false;
  byId('session').hidden = false;
  const wanted = location.hash.slice(1);
  showView(VIEWS.includes(wanted) && (wanted !== 'tokens' || who.may.manage_tokens) ? wanted : 'nodes');
}

function signOut(reason) {
  stopLiveViews();
  session.token = null;
  session.who = null;
  closeEditor();
  clearTokens();
  byId('tab-tokens').hidden = true;
  sessionStorage.removeItem(TOKEN_KEY);
  for (const id of [
    'nodes-list',
    'layer-list',
    'history-list',
    'editor-feedback',
    'history-status',
    'nodes-updated',
    'rollouts-current',
    'rollouts-past',
    'rollout-charts',
    'rollouts-status',
    'health-fleet',
    'health-node-charts',
  ]) {
    byId(id).replaceChildren();
  }
  clearError();
  byId('app').hidden = true;
  byId('session').hidden = true;
  byId('sign-in-view').hidden = false;
  byId('sign-in-error').textContent = reason || '';
  byId('token-input').value = '';
  byId('token-input').focus();
}

function showView(name) {
  page.view = name;
  for (const view of VIEWS) {
    byId(`${view}-view`).hidden = view !== name;
    byId(`tab-${view}`).setAttribute('aria-current', view === name ? 'page' : 'false');
  }
  clearError();
  stopLiveViews();
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  if (LIVE[name]) LIVE[name]();
  else if (name === 'layers') loadLayerList();
  else if (name === 'tokens') loadTokens();
  else loadHistory();
}

session.onUnauthorized = signOut;

byId('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = byId('token-input').value.trim();
  byId('sign-in-error').textContent = '';
  if (!/^[\x21-\x7e]+$/.test(token)) {
    byId('sign-in-error').textContent = 'Enter a token: printable characters without spaces.';
    return;
  }
  try {
    await signIn(token);
  } catch (error) {
    session.token = null;
    byId('sign-in-error').textContent = `Not signed in: ${describe(error)}`;
  }
});
byId('sign-out').addEventListener('click', () => signOut(''));
for (const view of VIEWS) byId(`tab-${view}`).addEventListener('click', () => showView(view));
byId('open-layer-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = byId('layer-name').value.trim();
  if (name) openLayer(name);
});
byId('save-layer').addEventListener('click', saveLayer);
byId('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  createToken();
});
byId('reload-layer').addEventListener('click', () => {
  const name = openLayerName();
  if (name) openLayer(name);
});
byId('history-filter').addEventListener('change', (event) => {
  setHistoryFilter(event.target.value);
  byId('history-status').textContent = '';
  loadHistory();
});
byId('health-node').addEventListener('change', (event) => selectHealthNode(event.target.value));
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && LIVE[page.view] && session.token) LIVE[page.view]();
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch((error) => signOut(`Signed out: ${describe(error)}`));
} else {
  byId('token-input').focus();
}
