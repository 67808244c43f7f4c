'use strict';
// The dashboard at `/`: views of one account through the admin API (the same routes and answers
// as API.md), with the account's API key as a Bearer token, and the changes an account makes
// there: adding a feature, adding a mapping rule (previewed first: how many stored unmapped
// events it would count), merging users that share an email, importing Stripe customers. The key stays in this tab's sessionStorage; nothing is stored by the
// gateway for the page. Every value from the API is written as text (textContent), never as HTML.

const KEY = 'kana.apiKey';
const PAGE = 50;

/**
 * Each view reads one admin API path (GET) into its section's `.view`. A paged view is a table of
 * the page's `data`, with a "More" button while the API answers a next cursor (and `loaded` sees
 * each page); the others render their answer themselves.
 */
const VIEWS = [
  { id: 'usage', path: '/v1/usage', empty: 'No usage recorded yet.', columns: [
    ['User', (row) => row.userId],
    ['Feature', (row) => row.featureId, 'code'],
    ['Total', (row) => row.total, 'number'],
  ] },
  // Each of its three lists pages by itself; the page shows up to the cap of each at once.
  { id: 'attention', path: '/v1/users/attention', query: '?limit=1000', render: (into, answer) => {
    into.append(
      heading('Without a billing id'),
      table(answer.missingBillingId, [
        ['User', (row) => userLabel(row)],
        ['Email', (row) => row.email ?? ''],
        ['Name', (row) => row.name ?? ''],
        ['Source', (row) => row.source],
      ], 'Every user has a billing id.'),
      heading('Sharing an email'),
      table(answer.sharedEmails, [
        ['Email', (row) => row.email],
        ['Users', (row) => row.users.map(userLabel).join(', ')],
        ['Merge', (row) => mergeControl(row.users), 'node'],
      ], 'No two users share an email.'),
      heading('Identity issues'),
      table(answer.issues, [
        ['User', (row) => row.userId ?? ''],
        ['Kind', (row) => row.kind],
        ['Detail', (row) => row.detail],
        ['At', (row) => row.at],
      ], 'No identity issues.'),
    );
  } },
  { id: 'unmapped', path: '/v1/events/unmapped', empty: 'No unmapped events: every stored event counts for a feature.', columns: [
    ['Event', (row) => row.event],
    ['User', (row) => row.userId],
    ['Reason', (row) => (row.reason === 'no_rule' ? 'no rule matches' : 'unknown featureId')],
    ['Time', (row) => row.timestamp],
    ['Properties', (row) => JSON.stringify(row.properties), 'code'],
    ['Message id', (row) => row.messageId, 'code'],
    ['', (row) => mapButton(row), 'node'],
  ] },
  { id: 'features', path: '/v1/features', empty: 'No features yet.', loaded: (page, more) => fillFeatureIds(page.data, more), columns: [
    ['Id', (row) => row.id, 'code'],
    ['Name', (row) => row.name],
    ['Created', (row) => row.createdAt],
  ] },
  { id: 'rules', path: '/v1/rules', empty: 'No mapping rules yet.', columns: [
    ['Feature', (row) => row.featureId, 'code'],
    ['Event', (row) => row.eventName],
    ['Conditions', (row) => row.conditions.map(conditionText).join(' and ') || 'none', 'code'],
    ['Enabled', (row) => (row.enabled ? 'yes' : 'no')],
    ['Updated', (row) => row.updatedAt],
  ] },
  { id: 'jobs', path: '/v1/reprocess-jobs', empty: 'No reprocess jobs yet.', columns: [
    ['Job', (row) => row.id, 'code'],
    ['Status', (row) => row.status],
    ['Processed', (row) => `${row.processed} of ${row.total}`, 'number'],
    ['Mapped', (row) => row.mapped, 'number'],
  ] },
];

/** The rule form suggests the features listed so far. */
function fillFeatureIds(features, more) {
  const list = document.getElementById('feature-ids');
  if (!more) list.replaceChildren();
  for (const feature of features) {
    const option = document.createElement('option');
    option.value = feature.id;
    option.textContent = feature.name;
    list.append(option);
  }
}

const userLabel = (user) => user.userId ?? `${user.id} (imported)`;
const conditionText = (c) => `${c.property} ${c.operator}${c.value === undefined ? '' : ` ${JSON.stringify(c.value)}`}`;

/** An admin API call with the key: GET, or POST of `body`; the API's own message on failure. */
async function api(path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY)}` };
  const init = body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(path, { ...init, cache: 'no-store' });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut();
    throw new Error(`${answer.message ?? 'unknown API key'}: sign in with a current key.`);
  }
  if (!response.ok) throw new Error(answer.message ?? `${response.status} ${response.statusText}`);
  return answer;
}

function heading(text) {
  const h3 = document.createElement('h3');
  h3.textContent = text;
  return h3;
}

/** A table of `rows`, or a line saying there are none. */
function table(rows, columns, emptyText) {
  if (rows.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = emptyText;
    return p;
  }
  const result = document.createElement('table');
  const head = result.createTHead().insertRow();
  for (const [label] of columns) {
    const th = document.createElement('th');
    th.textContent = label;
    head.append(th);
  }
  result.createTBody();
  addRows(result, rows, columns);
  return result;
}

function addRows(into, rows, columns) {
  for (const row of rows) {
    const tr = into.tBodies[0].insertRow();
    for (const [, value, kind] of columns) {
      const td = tr.insertCell();
      if (kind === 'node') {
        td.append(value(row));
        continue;
      }
      const text = String(value(row));
      if (kind === 'code') {
        const code = document.createElement('code');
        code.textContent = text;
        td.append(code);
      } else {
        if (kind === 'number') td.className = 'number';
        td.textContent = text;
      }
    }
  }
}

/** Loads a view, or with `cursor` the next page of a paged view, appended to its table. */
async function load(view, cursor) {
  const section = document.getElementById(view.id);
  const shown = section.querySelector('.view');
  const query = view.columns ? `?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` : (view.query ?? '');
  const answer = await api(view.path + query);
  shown.querySelector('button.more')?.remove();
  if (view.render) {
    shown.replaceChildren();
    view.render(shown, answer);
    return;
  }
  const rows = cursor ? shown.querySelector('table') : null;
  if (rows) addRows(rows, answer.data, view.columns);
  else shown.replaceChildren(table(answer.data, view.columns, view.empty));
  view.loaded?.(answer, Boolean(cursor));
  if (answer.nextCursor) {
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'more';
    more.textContent = 'More';
    more.addEventListener('click', () => load(view, answer.nextCursor).catch(showError));
    shown.append(more);
  }
}

/** A condition value as typed: JSON when it is JSON (3, true, ["a","b"], "x"), else the text itself; none when blank. */
function conditionValue(text) {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** What a form's field holds, as typed. */
const fieldOf = (form, name) => form.elements.namedItem(name).value;

/** The rule the form describes, as POST /v1/rules and /v1/rules/preview take it. */
function ruleOf(form) {
  const field = (name) => fieldOf(form, name).trim();
  const property = field('property');
  const value = conditionValue(fieldOf(form, 'value'));
  const condition = { property, operator: field('operator'), ...(value === undefined ? {} : { value }) };
  return { featureId: field('featureId'), eventName: field('eventName'), conditions: property ? [condition] : [] };
}

function say(text, where = 'rule-result') {
  document.getElementById('error').hidden = true;
  const result = document.getElementById(where);
  result.textContent = text;
  result.hidden = false;
}

async function previewRule(form) {
  const rule = ruleOf(form);
  const { matchingUnmapped, complete, scanned } = await api('/v1/rules/preview', rule);
  const events = `${matchingUnmapped} stored unmapped event${matchingUnmapped === 1 ? '' : 's'}`;
  // An account with millions of events of this name: the preview counted the oldest `scanned` before its deadline.
  say(complete === false ? `${events} of the oldest ${scanned} looked at (there are more) would be counted for ${rule.featureId}.` : `${events} would be counted for ${rule.featureId}.`);
}

async function createRule(form) {
  const rule = ruleOf(form);
  await api('/v1/rules', rule);
  form.reset();
  say(`Rule created: ${rule.eventName} counts for ${rule.featureId}. A reprocess job counts the stored events it maps.`);
  await refresh();
}

async function addFeature(form) {
  await api('/v1/features', { id: fieldOf(form, 'id').trim(), name: fieldOf(form, 'name').trim() });
  form.reset();
  await refresh();
}

/** Starts a rule for an unmapped event's name: the rule form, filled in with it, waits for a feature. */
function mapButton(event) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Map…';
  button.title = `Start a rule for "${event.event}" events`;
  button.addEventListener('click', () => {
    const form = document.getElementById('rule-form');
    form.elements.namedItem('eventName').value = event.event;
    form.scrollIntoView?.();
    form.elements.namedItem('featureId').focus();
  });
  return button;
}

/** Users sharing an email: keep the chosen one, merge each other into it (their usage follows it). */
function mergeControl(users) {
  const form = document.createElement('form');
  form.className = 'merge';
  const keep = document.createElement('select');
  keep.setAttribute('aria-label', 'user to keep');
  for (const user of users) {
    const option = document.createElement('option');
    option.value = user.id;
    option.textContent = userLabel(user);
    keep.append(option);
  }
  const button = document.createElement('button');
  button.type = 'submit';
  button.textContent = 'Keep, merge the others into it';
  form.append(keep, button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const survivor = users.find((user) => user.id === keep.value);
    const others = users.filter((user) => user !== survivor);
    if (!window.confirm(`Merge ${others.map(userLabel).join(', ')} into ${userLabel(survivor)}? Their usage will count for ${userLabel(survivor)}; this cannot be undone.`)) return;
    mergeUsers(survivor, others).catch(showError);
  });
  return form;
}

async function mergeUsers(survivor, others) {
  for (const user of others) await api(`/v1/users/${encodeURIComponent(user.id)}/merge`, { intoId: survivor.id });
  say(`Merged ${others.map(userLabel).join(', ')} into ${userLabel(survivor)}.`, 'users-result');
  await refresh();
}

/** RFC 4180 CSV: rows of fields; a quoted field may hold commas, line breaks and doubled quotes. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[++i];
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows.filter((fields) => fields.some((value) => value.trim() !== ''));
}

/** The customers of a Stripe customer export: a CSV whose header names an id column, and Email and Name ones. */
function stripeCustomers(text) {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (!header) throw new Error('the export is empty');
  const column = (name) => header.findIndex((title) => title.trim().toLowerCase() === name);
  const [id, email, name] = [column('id'), column('email'), column('name')];
  if (id < 0) throw new Error('the export has no "id" column: a Stripe customer export starts with id,Description,Email,Name');
  const value = (row, index) => (index < 0 ? null : row[index]?.trim() || null);
  return rows.map((row) => ({ id: value(row, id) ?? '', email: value(row, email), name: value(row, name) }));
}

/** At most this many customers per import request (the identity service's limit). */
const IMPORT_CHUNK = 10_000;

async function importCustomers(form) {
  const customers = stripeCustomers(fieldOf(form, 'csv'));
  const total = { imported: 0, merged: 0, skipped: 0 };
  for (let i = 0; i < customers.length; i += IMPORT_CHUNK) {
    const answer = await api('/v1/users/import', { customers: customers.slice(i, i + IMPORT_CHUNK) });
    for (const key of Object.keys(total)) total[key] += answer[key];
  }
  form.reset();
  say(`${customers.length} customer${customers.length === 1 ? '' : 's'}: ${total.imported} imported, ${total.merged} merged into users with their email, ${total.skipped} skipped.`, 'users-result');
  await refresh();
}

function showError(error) {
  const box = document.getElementById('error');
  box.textContent = error.message;
  box.hidden = false;
}

async function refresh() {
  document.getElementById('error').hidden = true;
  const results = await Promise.allSettled(VIEWS.map((view) => load(view)));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) showError(failed.reason);
}

function showSignedIn(signedIn) {
  document.getElementById('sign-in').hidden = signedIn;
  document.getElementById('signed-in').hidden = !signedIn;
  document.getElementById('views').hidden = !signedIn;
}

function signOut() {
  sessionStorage.removeItem(KEY);
  showSignedIn(false);
}

// In Node (the unit tests) only the pure functions are loaded.
if (typeof module === 'object') module.exports = { parseCsv, stripeCustomers, conditionValue };
else document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = document.getElementById('api-key');
    sessionStorage.setItem(KEY, input.value.trim());
    input.value = '';
    showSignedIn(true);
    refresh();
  });
  document.getElementById('sign-out').addEventListener('click', signOut);
  const featureForm = document.getElementById('feature-form');
  featureForm.addEventListener('submit', (event) => {
    event.preventDefault();
    addFeature(featureForm).catch(showError);
  });
  const importForm = document.getElementById('import-form');
  importForm.addEventListener('submit', (event) => {
    event.preventDefault();
    importCustomers(importForm).catch(showError);
  });
  const ruleForm = document.getElementById('rule-form');
  ruleForm.addEventListener('submit', (event) => {
    event.preventDefault();
    createRule(ruleForm).catch(showError);
  });
  document.getElementById('rule-preview').addEventListener('click', () => {
    if (ruleForm.reportValidity()) previewRule(ruleForm).catch(showError);
  });
  document.getElementById('refresh').addEventListener('click', refresh);
  if (sessionStorage.getItem(KEY)) {
    showSignedIn(true);
    refresh();
  }
});
