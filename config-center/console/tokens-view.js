// The Tokens view (admins only): every token, a form that creates one and shows its secret once,
// and revocation with a confirmation step (GET/POST /v1/tokens, DELETE /v1/tokens/<id>).
import { api, clearError, handleError, session } from './api.js';
import { byId, h, utc } from './dom.js';

function status(text) {
  byId('tokens-status').textContent = text;
}

function revokeCell(token) {
  const cell = h('td', {});
  if (token.id === session.who?.id) {
    cell.append(h('span', { className: 'muted', text: 'this session' }));
    return cell;
  }
  const ask = h('button', { type: 'button', className: 'secondary', 'aria-label': `Revoke ${token.name}` }, ['Revoke']);
  ask.addEventListener('click', () => {
    cell.replaceChildren(
      h('button', { type: 'button', 'aria-label': `Confirm revoking ${token.name}`, onclick: () => revoke(token) }, [
        'Confirm revoke',
      ]),
      h('button', { type: 'button', className: 'secondary', onclick: () => loadTokens() }, ['Cancel']),
    );
  });
  cell.append(ask);
  return cell;
}

async function revoke(token) {
  clearError();
  try {
    await api('DELETE', `/v1/tokens/${encodeURIComponent(token.id)}`);
    status(`Revoked ${token.name} (${token.role}); it is refused from now on.`);
  } catch (error) {
    handleError(error);
  }
  await loadTokens();
}

/** Loads and shows every token. */
export async function loadTokens() {
  try {
    const data = await api('GET', '/v1/tokens');
    const rows = data.tokens
      .slice()
      .sort((a, b) => a.created_at.localeCompare(b.created_at))
      .map((token) =>
        h('tr', { 'data-token': token.id }, [
          h('td', { text: token.name }),
          h('td', { text: token.role }),
          h('td', { text: token.node || '—' }),
          h('td', { text: utc(token.created_at) }),
          h('td', {}, [h('code', { text: token.id })]),
          revokeCell(token),
        ]),
      );
    byId('tokens-list').replaceChildren(
      h('table', { id: 'tokens-table' }, [
        h('caption', { text: `${data.tokens.length} token(s)` }),
        h('thead', {}, [
          h(
            'tr',
            {},
            ['Name', 'Role', 'Node', 'Created', 'Id', ''].map((label) => h('th', { scope: 'col', text: label })),
          ),
        ]),
        h('tbody', {}, rows),
      ]),
    );
  } catch (error) {
    handleError(error);
  }
}

/** Creates a token from the form; its secret is shown once. */
export async function createToken() {
  clearError();
  status('');
  const role = byId('token-role').value;
  const body = { role, name: byId('token-name').value.trim() || undefined };
  const node = byId('token-node').value.trim();
  if (role === 'agent') body.node = node;
  try {
    const created = await api('POST', '/v1/tokens', { body });
    byId('token-secret').replaceChildren(
      h('div', { className: 'saved' }, [
        h('h3', { text: `Created ${created.name} (${created.role}${created.node ? ` of node ${created.node}` : ''})` }),
        h('p', { text: 'Copy the token now: it is shown only this once and the center keeps only its hash.' }),
        h('code', { id: 'new-token', text: created.token }),
      ]),
    );
    byId('token-name').value = '';
    byId('token-node').value = '';
    await loadTokens();
  } catch (error) {
    byId('token-secret').replaceChildren();
    handleError(error);
  }
}

/** Forgets what the view showed (on sign-out). */
export function clearTokens() {
  for (const id of ['tokens-list', 'token-secret']) byId(id).replaceChildren();
  status('');
}
