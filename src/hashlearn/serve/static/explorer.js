// The hashlearn explorer: browse a bundle, query it by item or image, sweep the Hamming
// radius, read its statistics and compare methods side by side. It talks only to the JSON
// API under /api/v1 (see docs/service.md); plain ES2020, no build step, no network access
// beyond this server.

const API = '/api/v1';
const PAGE_SIZE = 48;
const COMPARE_K = 12;
// Radius tiles shown under the slider (the count says how many there are in all).
const RADIUS_TILES = 48;
// The slider stops at 16: past it a Hamming ball holds most of any database.
const MAX_SLIDER_RADIUS = 16;
const SVG_NS = 'http://www.w3.org/2000/svg';

// -- small helpers -------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `text`, `data-*`, `on*` handlers) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
}

const fmtInt = (n) => Number(n).toLocaleString('en-US');
const fmtP = (p) => (p === null || p === undefined ? '–' : Number(p).toFixed(3));
const enc = encodeURIComponent;

/** The code's bits as the API writes them: byte by byte, least significant bit first. */
function hexToBits(hex, nBits) {
  let bits = '';
  for (let i = 0; i < hex.length; i += 2) {
    const byte = parseInt(hex.slice(i, i + 2), 16);
    for (let j = 0; j < 8; j += 1) bits += (byte >> j) & 1 ? '1' : '0';
  }
  return bits.slice(0, nBits);
}

function groupBits(bits) {
  return bits.replace(/(.{8})(?=.)/g, '$1 ');
}

/** Whether two labels (class indices, or lists of them for multi-label data) share a class. */
function sameClass(a, b) {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (Array.isArray(a) || Array.isArray(b)) {
    const others = new Set([].concat(b));
    return [].concat(a).some((label) => others.has(label));
  }
  return a === b;
}

function labelText(info) {
  if (!info) return '';
  const name = info.label_name;
  if (Array.isArray(name)) return name.join(', ') || 'no label';
  if (name !== null && name !== undefined) return String(name);
  if (info.label !== null && info.label !== undefined) return `class ${info.label}`;
  return '';
}

// -- the API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail, field) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.field = field;
  }
}

let pending = 0;

function setBusy(delta) {
  pending += delta;
  // Kept in the layout (only its text hides), so the header does not shift.
  $('busy').dataset.on = String(pending > 0);
}

/** One API call: the parsed JSON, or an ApiError carrying the server's `detail`. */
async function api(path, { method = 'GET', json, body, contentType } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
    init.headers['Content-Type'] = contentType || 'application/octet-stream';
  }
  setBusy(1);
  try {
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (err) {
      throw new ApiError(0, `the server did not answer (${err.message})`, null);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      let detail = `${response.status} ${response.statusText}`;
      if (data && typeof data.detail === 'string') detail = data.detail;
      else if (data && data.detail) detail = JSON.stringify(data.detail);
      throw new ApiError(response.status, detail, data ? data.field : null);
    }
    if (data === null) {
      throw new ApiError(response.status, `${path} answered with something that is not JSON`, null);
    }
    return data;
  } finally {
    setBusy(-1);
  }
}

const bundlePath = (name) => `/bundles/${enc(name)}`;

// Item facts (label, class name, snippet) by bundle and id; ids of built items never change.
const itemCache = new Map();

function itemInfo(bundle, id) {
  const key = `${bundle}\u0000${id}`;
  let promise = itemCache.get(key);
  if (!promise) {
    promise = api(`${bundlePath(bundle)}/items/${id}`);
    itemCache.set(key, promise);
    promise.catch(() => itemCache.delete(key));
  }
  return promise;
}

function rememberItem(bundle, info) {
  itemCache.set(`${bundle}\u0000${info.id}`, Promise.resolve(info));
}

/** Fetch the facts of every id not yet cached in one request (GET items?ids=...). */
async function prefetchItems(bundle, ids) {
  const missing = [...new Set(ids)].filter((id) => !itemCache.has(`${bundle}\u0000${id}`));
  const chunk = 200; // well under the server's page limit, and a short URL
  for (let start = 0; start < missing.length; start += chunk) {
    const part = missing.slice(start, start + chunk);
    const query = part.map((id) => `ids=${encodeURIComponent(id)}`).join('&');
    const page = await api(`${bundlePath(bundle)}/items?${query}`);
    page.items.forEach((info) => rememberItem(bundle, info));
  }
}

// -- messages --------------------------------------------------------------------------------

function showMessage(text, status) {
  $('message-text').textContent = text;
  $('message').dataset.status = status === undefined ? '' : String(status);
  $('message').hidden = false;
}

/** Show an error from the API (or from the page) in the message area. */
function showError(err, context) {
  const detail = err instanceof ApiError ? err.detail : err && err.message ? err.message : String(err);
  const status = err instanceof ApiError && err.status ? ` (HTTP ${err.status})` : '';
  showMessage(`${context ? `${context}: ` : ''}${detail}${status}`, err && err.status);
}

function clearMessage() {
  $('message').hidden = true;
  $('message-text').textContent = '';
}

// Bugs in this page show up too, not only in the console.
window.addEventListener('error', (event) => showError(event.error || event.message, 'page error'));
window.addEventListener('unhandledrejection', (event) => showError(event.reason, 'page error'));

// -- state -----------------------------------------------------------------------------------

const state = {
  bundles: [],
  bundle: null, // the summary of the bundle shown
  limits: null,
  offset: 0,
  total: 0,
  query: null, // {kind: 'id', id, info} or {kind: 'upload', file, url, code, name}
  k: 12,
  rerank: false,
  radius: 2,
  profile: null,
  profilePromise: null,
  view: 'explore',
  compareId: null,
  stats: new Map(),
};

// Every panel keeps a counter: an answer to a request that a newer one replaced is dropped.
const generation = { page: 0, neighbours: 0, profile: 0, radius: 0, compare: 0, stats: 0 };

function profileCap() {
  return state.limits ? state.limits.max_radius_profile : MAX_SLIDER_RADIUS;
}

function sliderMax() {
  return Math.max(0, Math.min(state.bundle.n_bits, MAX_SLIDER_RADIUS, profileCap()));
}

function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const int = (name) => {
    const value = params.get(name);
    return value !== null && /^\d+$/.test(value) ? Number(value) : null;
  };
  return { bundle: params.get('bundle'), q: int('q'), r: int('r'), view: params.get('view') };
}

function writeHash() {
  const params = new URLSearchParams();
  if (state.bundle) params.set('bundle', state.bundle.name);
  if (state.query && state.query.kind === 'id') params.set('q', String(state.query.id));
  params.set('r', String(state.radius));
  if (state.view !== 'explore') params.set('view', state.view);
  window.history.replaceState(null, '', `#${params}`);
}

// -- tiles -----------------------------------------------------------------------------------

/**
 * One item as a button: its image (or text snippet, or code), id and class; with a
 * distance badge and a relevant/not mark when given.
 */
function tile(bundle, info, options = {}) {
  const { testid = 'item-tile', distance, score, relevant, onSelect, selected } = options;
  const id = info.id;
  const classes = ['tile'];
  if (relevant === true) classes.push('relevant');
  if (relevant === false) classes.push('irrelevant');
  if (selected) classes.push('selected');
  if (info.has_image === false && info.text) classes.push('text-tile');
  const label = labelText(info);
  const spoken = [`item ${id}`, label && `class ${label}`];
  if (distance !== undefined) spoken.push(`Hamming distance ${distance}`);
  if (score !== undefined && score !== null) spoken.push(`cosine distance ${fmtP(score)}`);
  if (relevant === true) spoken.push('relevant');
  if (relevant === false) spoken.push('not relevant');
  let media;
  if (info.has_image) {
    media = el('img', {
      class: 'thumb',
      src: `${API}${bundlePath(bundle)}/items/${id}/image.png`,
      alt: '',
      loading: 'lazy',
      decoding: 'async',
    });
  } else if (info.text) {
    media = el('span', { class: 'snippet' }, info.text.slice(0, 400));
  } else {
    media = el('span', { class: 'code-thumb' }, groupBits(info.bits || ''));
  }
  const badges = [];
  if (distance !== undefined) badges.push(el('span', { class: 'badge distance', title: 'Hamming distance' }, `d ${distance}`));
  if (score !== undefined && score !== null) {
    badges.push(el('span', { class: 'badge score', title: 'cosine distance on the stored vectors' }, fmtP(score)));
  }
  if (relevant === true) badges.push(el('span', { class: 'badge mark good', 'aria-hidden': 'true' }, '✓'));
  if (relevant === false) badges.push(el('span', { class: 'badge mark bad', 'aria-hidden': 'true' }, '✗'));
  const node = el(
    'button',
    {
      type: 'button',
      class: classes.join(' '),
      'data-testid': testid,
      'data-item-id': id,
      'data-distance': distance,
      'data-score': score === null ? undefined : score,
      'data-relevant': relevant === null || relevant === undefined ? undefined : String(relevant),
      'aria-label': spoken.filter(Boolean).join(', '),
      'aria-pressed': onSelect && selected !== undefined ? String(Boolean(selected)) : undefined,
      title: `#${id}${label ? ` · ${label}` : ''}${distance !== undefined ? ` · d ${distance}` : ''}`,
    },
    el('span', { class: 'media' }, media, badges.length ? el('span', { class: 'badges' }, badges) : null),
    el('span', { class: 'caption' }, el('span', { class: 'cls' }, label), el('span', { class: 'id' }, `#${id}`)),
  );
  if (onSelect) node.addEventListener('click', () => onSelect(id));
  else node.tabIndex = -1;
  return node;
}

/** Tiles for ranked results, once the facts of every item are in. */
async function resultTiles(bundle, ids, distances, { scores, queryLabel, testid, onSelect }) {
  await prefetchItems(bundle, ids);
  const infos = await Promise.all(ids.map((id) => itemInfo(bundle, id)));
  return infos.map((info, i) =>
    tile(bundle, info, {
      testid,
      distance: distances[i],
      score: scores ? scores[i] : undefined,
      relevant: sameClass(queryLabel, info.label),
      onSelect,
    }),
  );
}

function gridClass(node) {
  node.classList.toggle('text', state.bundle && state.bundle.display === 'text');
}

// -- header ----------------------------------------------------------------------------------

function renderFacts() {
  const b = state.bundle;
  const facts = $('bundle-facts');
  const rows = [
    ['method', b.label || b.method || b.hasher, 'fact-method'],
    ['bits', b.n_bits, 'fact-bits'],
    ['items', fmtInt(b.n_items), 'fact-items'],
    ['index', b.index, 'fact-index'],
    ['dataset', b.dataset || '–', 'fact-dataset'],
  ];
  facts.replaceChildren(
    ...rows.flatMap(([name, value, testid]) => [
      el('dt', {}, name),
      el('dd', { 'data-testid': testid }, value === null || value === undefined ? '–' : value),
    ]),
  );
  const description = b.description || {};
  facts.title = [
    b.hasher && `hasher ${b.hasher}`,
    description.method && `method spec ${description.method}`,
    description.dataset_source,
    description.n_train && `fitted on ${fmtInt(description.n_train)} rows`,
    description.built_at && `built ${description.built_at}`,
  ]
    .filter(Boolean)
    .join('\n');
}

// -- browse ----------------------------------------------------------------------------------

async function loadPage(offset) {
  const b = state.bundle;
  const grid = $('item-grid');
  const mine = ++generation.page;
  grid.dataset.state = 'loading';
  grid.setAttribute('aria-busy', 'true');
  try {
    const page = await api(`${bundlePath(b.name)}/items?offset=${offset}&limit=${PAGE_SIZE}`);
    if (mine !== generation.page) return;
    state.offset = page.offset;
    state.total = page.total;
    page.items.forEach((info) => rememberItem(b.name, info));
    gridClass(grid);
    const queryId = state.query && state.query.kind === 'id' ? state.query.id : null;
    grid.replaceChildren(
      ...page.items.map((info) =>
        tile(b.name, info, { testid: 'item-tile', onSelect: selectItem, selected: info.id === queryId }),
      ),
    );
    const last = page.offset + page.items.length;
    $('page-info').textContent = page.items.length
      ? `items ${fmtInt(page.offset)}–${fmtInt(last - 1)} of ${fmtInt(page.total)}`
      : `no items at offset ${fmtInt(page.offset)} (${fmtInt(page.total)} in all)`;
    $('page-prev').disabled = page.offset === 0;
    $('page-next').disabled = last >= page.total;
    grid.dataset.offset = String(page.offset);
    grid.dataset.bundle = b.name;
    grid.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation.page) return;
    grid.dataset.state = 'error';
    showError(err, 'browse');
  } finally {
    if (mine === generation.page) grid.removeAttribute('aria-busy');
  }
}

function markSelected() {
  const queryId = state.query && state.query.kind === 'id' ? state.query.id : null;
  for (const node of $('item-grid').querySelectorAll('.tile')) {
    const on = Number(node.dataset.itemId) === queryId;
    node.classList.toggle('selected', on);
    node.setAttribute('aria-pressed', String(on));
  }
}

async function goToId(raw) {
  clearMessage();
  const text = String(raw).trim();
  if (!/^-?\d+$/.test(text)) {
    showMessage(`go to id: enter a whole number (the item ids are 0 .. ${fmtInt(state.total - 1)})`);
    return;
  }
  const id = Number(text);
  try {
    // The server says whether the id exists (and why not): its answer is the message shown.
    await itemInfo(state.bundle.name, id);
  } catch (err) {
    showError(err, 'go to id');
    return;
  }
  await loadPage(Math.floor(id / PAGE_SIZE) * PAGE_SIZE);
  selectItem(id);
}

function randomId() {
  return Math.floor(Math.random() * Math.max(1, state.bundle.n_items));
}

// -- the query -------------------------------------------------------------------------------

function selectItem(id) {
  clearMessage();
  if (state.query && state.query.url) URL.revokeObjectURL(state.query.url);
  state.query = { kind: 'id', id, info: null };
  state.compareId = id;
  markSelected();
  writeHash();
  runQuery();
}

async function selectUpload(file) {
  clearMessage();
  if (!file) return;
  if (state.query && state.query.url) URL.revokeObjectURL(state.query.url);
  state.query = { kind: 'upload', file, url: URL.createObjectURL(file), name: file.name, code: null };
  markSelected();
  writeHash();
  runQuery();
}

function runQuery() {
  const upload = state.query.kind === 'upload';
  if (upload) {
    // The profile of an uploaded image comes with its neighbours.
    generation.profile += 1;
    state.profilePromise = null;
    setProfile(null);
  }
  // search/image answers by Hamming distance only.
  $('rerank').disabled = upload;
  $('rerank-label').title = upload ? 're-ranking applies to stored items, not uploads' : '';
  $('query-placeholder').hidden = true;
  $('query-body').hidden = false;
  renderQueryHead();
  runNeighbours();
  if (state.query.kind === 'id') runProfile();
  if (state.view === 'compare') runCompare();
}

async function renderQueryHead() {
  const b = state.bundle;
  const q = state.query;
  const head = $('query-head');
  if (q.kind === 'upload') {
    const code = q.code ? groupBits(hexToBits(q.code, b.n_bits)) : '…';
    head.dataset.queryId = 'upload';
    head.replaceChildren(
      el('img', { class: 'query-image', src: q.url, alt: `uploaded image ${q.name}` }),
      el(
        'dl',
        { class: 'facts wide' },
        el('dt', {}, 'query'),
        el('dd', {}, `uploaded image “${q.name}”`),
        el('dt', {}, 'code'),
        el('dd', { class: 'bits', 'data-testid': 'query-bits' }, code),
        el('dt', {}, 'label'),
        el('dd', {}, 'none (relevance is not marked)'),
      ),
    );
    return;
  }
  head.dataset.queryId = String(q.id);
  let info;
  try {
    info = await itemInfo(b.name, q.id);
  } catch (err) {
    showError(err, 'query');
    return;
  }
  if (state.query !== q) return;
  q.info = info;
  let media;
  if (info.has_image) {
    media = el('img', {
      class: 'query-image',
      src: `${API}${bundlePath(b.name)}/items/${q.id}/image.png`,
      alt: `item ${q.id}`,
    });
  } else if (info.text) {
    media = el('blockquote', { class: 'query-text' }, info.text.slice(0, 1200));
  } else media = null;
  head.replaceChildren(
    ...[media].filter(Boolean),
    el(
      'dl',
      { class: 'facts wide' },
      el('dt', {}, 'item'),
      el('dd', { 'data-testid': 'query-id' }, `#${q.id}`),
      el('dt', {}, 'class'),
      el('dd', {}, labelText(info) || '–'),
      el('dt', {}, 'code'),
      el('dd', { class: 'bits', 'data-testid': 'query-bits', title: `hex ${info.code}` }, groupBits(info.bits)),
    ),
  );
}

async function searchImage(q) {
  const b = state.bundle;
  const params = `k=${state.k}&max_radius=${sliderMax()}`;
  return api(`${bundlePath(b.name)}/search/image?${params}`, {
    method: 'POST',
    body: q.file,
    contentType: q.file.type || 'application/octet-stream',
  });
}

async function runNeighbours() {
  const b = state.bundle;
  const q = state.query;
  const box = $('neighbours');
  const mine = ++generation.neighbours;
  box.dataset.state = 'loading';
  box.setAttribute('aria-busy', 'true');
  gridClass(box);
  try {
    let result;
    let took = null;
    let queryLabel = null;
    if (q.kind === 'id') {
      const rerank = state.rerank && b.can_rerank;
      const answer = await api(`${bundlePath(b.name)}/search`, {
        method: 'POST',
        json: { ids: [q.id], k: state.k, rerank },
      });
      [result] = answer.results;
      took = answer.took_ms;
      queryLabel = (await itemInfo(b.name, q.id)).label;
    } else {
      const answer = await searchImage(q);
      if (mine !== generation.neighbours) return;
      [result] = answer.results;
      q.code = answer.code;
      renderQueryHead();
      generation.profile += 1;
      setProfile(answer.profile);
      runRadius();
    }
    const tiles = await resultTiles(b.name, result.ids, result.distances, {
      scores: result.scores,
      queryLabel,
      testid: 'neighbour-tile',
      onSelect: selectItem,
    });
    if (mine !== generation.neighbours) return;
    box.replaceChildren(...tiles);
    const relevant = tiles.filter((node) => node.dataset.relevant === 'true').length;
    const parts = [`${result.ids.length} nearest by Hamming distance`];
    if (result.scores) parts[0] = `${result.ids.length} nearest, re-ranked by cosine distance on the vectors`;
    if (queryLabel !== null && queryLabel !== undefined && b.has_labels) {
      parts.push(`${relevant} of ${result.ids.length} share the query's class`);
    }
    if (took !== null) parts.push(`${took} ms`);
    $('neighbours-note').textContent = parts.join(' · ');
    box.dataset.queryId = q.kind === 'id' ? String(q.id) : 'upload';
    box.dataset.k = String(state.k);
    box.dataset.rerank = String(Boolean(result.scores));
    box.dataset.bundle = b.name;
    box.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation.neighbours) return;
    box.dataset.state = 'error';
    box.replaceChildren();
    $('neighbours-note').textContent = '';
    showError(err, 'nearest neighbours');
  } finally {
    if (mine === generation.neighbours) box.removeAttribute('aria-busy');
  }
}

// -- the radius profile and the Hamming ball -----------------------------------------------

function runProfile() {
  const b = state.bundle;
  const q = state.query;
  const mine = ++generation.profile;
  setProfile(null);
  state.profilePromise = api(`${bundlePath(b.name)}/profile`, {
    method: 'POST',
    json: { ids: [q.id], max_radius: sliderMax() },
  }).then(
    (profile) => {
      if (mine === generation.profile) setProfile(profile);
      return profile;
    },
    (err) => {
      if (mine === generation.profile) showError(err, 'radius profile');
      return null;
    },
  );
  runRadius();
}

/** Show a profile (or none); the radius readout waits for `state.profilePromise`. */
function setProfile(profile) {
  state.profile = profile;
  if (profile) state.profilePromise = Promise.resolve(profile);
  drawProfile();
  renderProfileTable();
}

let radiusTimer = null;

function onRadiusInput() {
  state.radius = Number($('radius').value);
  $('radius-value').textContent = String(state.radius);
  drawProfile();
  writeHash();
  // Dragging the slider fires many events; search once it rests.
  clearTimeout(radiusTimer);
  radiusTimer = setTimeout(runRadius, 120);
}

function setRadius(radius) {
  $('radius').value = String(radius);
  onRadiusInput();
}

async function runRadius() {
  const b = state.bundle;
  const q = state.query;
  if (!q || (q.kind === 'upload' && !q.code)) return;
  const radius = state.radius;
  const readout = $('radius-readout');
  const box = $('radius-items');
  const mine = ++generation.radius;
  readout.dataset.state = 'loading';
  box.setAttribute('aria-busy', 'true');
  gridClass(box);
  try {
    const queries = q.kind === 'id' ? { ids: [q.id] } : { codes: [q.code] };
    const answer = await api(`${bundlePath(b.name)}/search`, {
      method: 'POST',
      json: { ...queries, radius },
    });
    const [result] = answer.results;
    const profile = await state.profilePromise;
    const queryLabel = q.kind === 'id' ? (await itemInfo(b.name, q.id)).label : null;
    const shown = result.ids.slice(0, RADIUS_TILES);
    const tiles = await resultTiles(b.name, shown, result.distances.slice(0, RADIUS_TILES), {
      queryLabel,
      testid: 'radius-tile',
      onSelect: selectItem,
    });
    if (mine !== generation.radius) return;
    const count = result.ids.length;
    const precision = profile && profile.precision ? profile.precision[radius] : null;
    const recall = profile && profile.recall ? profile.recall[radius] : null;
    const parts = [`radius ≤ ${radius}: `, el('strong', { 'data-testid': 'radius-count' }, fmtInt(count)), count === 1 ? ' item' : ' items'];
    if (precision !== undefined && precision !== null) {
      parts.push(' · precision ', el('strong', { 'data-testid': 'radius-precision' }, fmtP(precision)));
    } else if (profile && profile.precision) {
      parts.push(' · precision ', el('strong', { 'data-testid': 'radius-precision' }, '– (no item within)'));
    }
    if (recall !== undefined && recall !== null) parts.push(' · recall ', el('strong', {}, fmtP(recall)));
    parts.push(el('span', { class: 'muted' }, ` · ${answer.took_ms} ms`));
    readout.replaceChildren(...parts);
    readout.dataset.radius = String(radius);
    readout.dataset.count = String(count);
    readout.dataset.precision = precision === null || precision === undefined ? '' : String(precision);
    readout.dataset.queryId = q.kind === 'id' ? String(q.id) : 'upload';
    readout.dataset.bundle = b.name;
    $('radius-note').textContent = count > shown.length
      ? `The ${fmtInt(shown.length)} nearest of the ${fmtInt(count)} items within radius ${radius}, nearest first:`
      : count ? `The items within radius ${radius}, nearest first:` : `No item lies within radius ${radius}.`;
    box.replaceChildren(...tiles);
    readout.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation.radius) return;
    readout.dataset.state = 'error';
    readout.textContent = `radius ≤ ${radius}: no answer`;
    box.replaceChildren();
    showError(err, 'radius search');
  } finally {
    if (mine === generation.radius) box.removeAttribute('aria-busy');
  }
}

/** Ticks 1, 10, 100, ... up to `top`, for a log-scaled count axis. */
function logTicks(top) {
  const ticks = [1];
  while (ticks[ticks.length - 1] * 10 <= top) ticks.push(ticks[ticks.length - 1] * 10);
  return ticks;
}

function compact(n) {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

function drawProfile() {
  const chart = $('profile-chart');
  const profile = state.profile;
  if (!profile) {
    chart.replaceChildren();
    chart.removeAttribute('viewBox');
    return;
  }
  const W = 640;
  const H = 190;
  const m = { left: 44, right: 40, top: 18, bottom: 32 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const counts = profile.candidates;
  const n = counts.length;
  const band = pw / n;
  const top = Math.max(1, ...counts);
  const logTop = Math.log10(top + 1);
  const yCount = (c) => m.top + ph - (Math.log10(c + 1) / logTop) * ph;
  const yPrec = (p) => m.top + ph - p * ph;
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const nodes = [];
  const selected = state.radius;
  if (selected < n) {
    nodes.push(svg('rect', { class: 'highlight', x: m.left + selected * band, y: m.top - 14, width: band, height: ph + 14 }));
  }
  for (const tick of logTicks(top)) {
    const y = yCount(tick);
    nodes.push(svg('line', { class: 'grid-line', x1: m.left, x2: m.left + pw, y1: y, y2: y }));
    nodes.push(svg('text', { class: 'tick', x: m.left - 6, y: y + 4, 'text-anchor': 'end' }, compact(tick)));
  }
  counts.forEach((count, r) => {
    const x = m.left + r * band;
    const y = yCount(count);
    const precision = profile.precision ? profile.precision[r] : null;
    const bar = svg(
      'rect',
      {
        class: r === selected ? 'bar selected' : 'bar',
        x: x + band * 0.15,
        y,
        width: band * 0.7,
        height: m.top + ph - y,
        'data-testid': 'profile-bar',
        'data-radius': r,
        'data-count': count,
      },
      svg('title', {}, `radius ≤ ${r}: ${fmtInt(count)} items${precision !== null ? `, precision ${fmtP(precision)}` : ''}`),
    );
    // A click anywhere in the column picks its radius.
    const hit = svg('rect', { class: 'hit', x, y: m.top - 14, width: band, height: ph + 14 + m.bottom });
    hit.addEventListener('click', () => setRadius(r));
    nodes.push(bar);
    nodes.push(svg('text', { class: r === selected ? 'tick strong' : 'tick', x: x + band / 2, y: H - m.bottom + 14, 'text-anchor': 'middle' }, r));
    if (r === selected) {
      nodes.push(svg('text', { class: 'value', x: x + band / 2, y: Math.max(m.top - 4, y - 4), 'text-anchor': 'middle' }, compact(count)));
    }
    nodes.push(hit);
  });
  nodes.push(svg('text', { class: 'axis-label', x: m.left + pw / 2, y: H - 2, 'text-anchor': 'middle' }, 'Hamming radius'));
  nodes.push(svg('text', { class: 'axis-label', transform: `translate(11 ${m.top + ph / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'items'));
  if (profile.precision) {
    for (const p of [0, 0.5, 1]) {
      nodes.push(svg('text', { class: 'tick prec', x: W - m.right + 6, y: yPrec(p) + 4 }, p.toFixed(1)));
    }
    nodes.push(svg('text', { class: 'axis-label prec', transform: `translate(${W - 6} ${m.top + ph / 2}) rotate(90)`, 'text-anchor': 'middle' }, 'precision'));
    const points = [];
    profile.precision.forEach((p, r) => {
      if (p !== null) points.push([m.left + (r + 0.5) * band, yPrec(p), r]);
    });
    nodes.push(svg('polyline', { class: 'line', points: points.map(([x, y]) => `${x},${y}`).join(' ') }));
    for (const [x, y, r] of points) {
      nodes.push(svg('circle', { class: r === selected ? 'dot selected' : 'dot', cx: x, cy: y, r: r === selected ? 4.5 : 3 }));
    }
  }
  nodes.push(svg('line', { class: 'axis', x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph }));
  chart.replaceChildren(...nodes);
}

function renderProfileTable() {
  const profile = state.profile;
  const table = $('profile-table');
  if (!profile) {
    table.replaceChildren();
    return;
  }
  const row = (head, values, format) =>
    el('tr', {}, el('th', { scope: 'row' }, head), values.map((v) => el('td', {}, format(v))));
  const rows = [row('radius', profile.radius, String), row('items', profile.candidates, fmtInt)];
  if (profile.precision) rows.push(row('precision', profile.precision, fmtP));
  if (profile.recall) rows.push(row('recall', profile.recall, fmtP));
  table.replaceChildren(el('tbody', {}, rows));
}

// -- compare ---------------------------------------------------------------------------------

/** The bundles whose ids name the same items as the current one, and the others. */
function comparable() {
  const b = state.bundle;
  const same = [];
  const other = [];
  for (const c of state.bundles) {
    if (c.name === b.name) continue;
    if (c.dataset === b.dataset && c.n_items_built === b.n_items_built) same.push(c);
    else other.push(c);
  }
  return { same: [b, ...same], other };
}

async function runCompare() {
  const b = state.bundle;
  const rows = $('compare-rows');
  const { same, other } = comparable();
  const notes = [];
  if (state.bundles.length < 2) {
    notes.push('This server holds one bundle: serve two or more of the same dataset (hashlearn serve A B) to compare methods.');
  }
  if (other.length) {
    const names = other.map((c) => `${c.name} (${c.dataset || 'unknown dataset'}, ${fmtInt(c.n_items_built)} items)`);
    notes.push(
      `Not compared: ${names.join('; ')}. Only bundles of the same dataset and size share ids, and ${b.name} holds ${b.dataset || 'an unknown dataset'} (${fmtInt(b.n_items_built)} items); choose another bundle above to compare those of its dataset.`,
    );
  }
  $('compare-note').textContent = notes.join(' ');
  let id = state.compareId;
  if (id === null || id === undefined) id = state.query && state.query.kind === 'id' ? state.query.id : 0;
  state.compareId = id;
  $('compare-id').value = String(id);
  const mine = ++generation.compare;
  rows.classList.toggle('text', b.display === 'text');
  rows.dataset.state = 'loading';
  rows.setAttribute('aria-busy', 'true');
  try {
    // The searches first: an unknown id is then reported by search, as for any query.
    const answers = await Promise.all(
      same.map((c) =>
        api(`${bundlePath(c.name)}/search`, { method: 'POST', json: { ids: [id], k: COMPARE_K } }),
      ),
    );
    const queryInfo = await itemInfo(b.name, id);
    const profiles = b.has_labels
      ? await Promise.all(
          same.map((c) =>
            api(`${bundlePath(c.name)}/profile`, {
              method: 'POST',
              json: { ids: [id], max_radius: Math.min(c.n_bits, MAX_SLIDER_RADIUS, profileCap()) },
            }),
          ),
        )
      : null;
    const built = await Promise.all(
      same.map(async (c, i) => {
        const [result] = answers[i].results;
        const tiles = await resultTiles(c.name, result.ids, result.distances, {
          queryLabel: queryInfo.label,
          testid: 'compare-tile',
          onSelect: (picked) => {
            state.compareId = picked;
            runCompare();
          },
        });
        const hits = tiles.filter((node) => node.dataset.relevant === 'true').length;
        const hasLabels = c.has_labels && queryInfo.label !== null;
        return el(
          'div',
          { class: 'compare-row', 'data-testid': 'compare-row', 'data-bundle': c.name, role: 'group', 'aria-label': `${c.label}, ${c.n_bits} bits` },
          el(
            'div',
            { class: 'row-head' },
            el('strong', { 'data-testid': 'compare-label' }, `${c.label || c.method} · ${c.n_bits} bits`),
            el('span', { class: 'muted small' }, c.name),
            hasLabels ? el('span', { class: 'small', 'data-testid': 'compare-precision' }, `${hits}/${tiles.length} relevant`) : null,
          ),
          el('div', { class: state.bundle.display === 'text' ? 'row-tiles text' : 'row-tiles' }, tiles),
        );
      }),
    );
    if (mine !== generation.compare) return;
    const queryTile = tile(b.name, queryInfo, { testid: 'compare-query' });
    rows.replaceChildren(
      el('div', { class: 'compare-query' }, el('span', { class: 'muted small' }, 'query'), queryTile),
      el('div', { class: 'compare-list' }, built),
    );
    drawCompareProfiles(same, profiles);
    rows.dataset.queryId = String(id);
    rows.dataset.bundle = b.name;
    rows.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation.compare) return;
    rows.dataset.state = 'error';
    rows.replaceChildren();
    $('compare-profiles').hidden = true;
    showError(err, 'compare');
  } finally {
    if (mine === generation.compare) rows.removeAttribute('aria-busy');
  }
}

const SERIES = ['#2d5bd0', '#d9822b', '#1d8a4a', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d'];

/** Precision against radius for one query, one line per bundle, and the same as a table. */
function drawCompareProfiles(bundles, profiles) {
  const box = $('compare-profiles');
  const usable = profiles && profiles.some((p) => p.precision);
  box.hidden = !usable;
  if (!usable) return;
  const chart = $('compare-chart');
  const W = 900;
  const H = 220;
  const m = { left: 48, right: 190, top: 12, bottom: 34 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const n = Math.max(...profiles.map((p) => p.radius.length));
  const x = (r) => m.left + (n > 1 ? (r / (n - 1)) * pw : pw / 2);
  const y = (p) => m.top + ph - p * ph;
  const nodes = [];
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    nodes.push(svg('line', { class: 'grid-line', x1: m.left, x2: m.left + pw, y1: y(tick), y2: y(tick) }));
    nodes.push(svg('text', { class: 'tick', x: m.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, tick.toFixed(2)));
  }
  for (let r = 0; r < n; r += 1) {
    nodes.push(svg('text', { class: 'tick', x: x(r), y: H - m.bottom + 14, 'text-anchor': 'middle' }, r));
  }
  nodes.push(svg('line', { class: 'axis', x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph }));
  nodes.push(svg('text', { class: 'axis-label', x: m.left + pw / 2, y: H - 2, 'text-anchor': 'middle' }, 'Hamming radius'));
  nodes.push(svg('text', { class: 'axis-label', transform: `translate(12 ${m.top + ph / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'precision'));
  bundles.forEach((c, i) => {
    const profile = profiles[i];
    if (!profile.precision) return;
    const color = SERIES[i % SERIES.length];
    const points = [];
    profile.precision.forEach((p, r) => {
      if (p !== null) points.push([x(r), y(p), r, p]);
    });
    const group = svg('g', { 'data-testid': 'compare-line', 'data-bundle': c.name });
    group.append(svg('polyline', { class: 'series', stroke: color, points: points.map(([px, py]) => `${px},${py}`).join(' ') }));
    for (const [px, py, r, p] of points) {
      group.append(
        svg('circle', { cx: px, cy: py, r: 3, fill: color },
          svg('title', {}, `${c.label} ${c.n_bits} bits, radius ≤ ${r}: precision ${fmtP(p)} over ${fmtInt(profile.candidates[r])} items`)),
      );
    }
    nodes.push(group);
    const ly = m.top + 10 + i * 18;
    nodes.push(svg('line', { x1: W - m.right + 16, x2: W - m.right + 36, y1: ly - 4, y2: ly - 4, stroke: color, 'stroke-width': 3 }));
    nodes.push(svg('text', { class: 'legend-text', x: W - m.right + 42, y: ly }, `${c.label} · ${c.n_bits} bits`));
  });
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  chart.replaceChildren(...nodes);
  const head = el('tr', {}, el('th', { scope: 'col' }, 'radius'), profiles[0].radius.map((r) => el('th', { scope: 'col' }, r)));
  const body = bundles.map((c, i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, `${c.label} · ${c.n_bits} bits`),
      (profiles[i].precision || []).map((p, r) => el('td', { title: `${fmtInt(profiles[i].candidates[r])} items` }, fmtP(p))),
    ),
  );
  $('compare-table').replaceChildren(el('thead', {}, head), el('tbody', {}, body));
}

// -- statistics ------------------------------------------------------------------------------

async function runStats() {
  const b = state.bundle;
  const box = $('stats');
  const mine = ++generation.stats;
  box.dataset.state = 'loading';
  try {
    let stats = state.stats.get(b.name);
    if (!stats) {
      stats = await api(`${bundlePath(b.name)}/stats`);
      state.stats.set(b.name, stats);
    }
    if (mine !== generation.stats) return;
    const facts = [
      ['items', fmtInt(stats.n_items)],
      ['buckets', fmtInt(stats.n_buckets)],
      ['singletons', fmtInt(stats.singleton_buckets)],
      ['mean size', stats.mean_bucket],
      ['largest', fmtInt(stats.largest_bucket)],
    ];
    $('stats-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    drawBuckets(stats.bucket_histogram);
    drawBalance(stats.bit_balance);
    box.dataset.bundle = b.name;
    box.dataset.state = 'ready';
  } catch (err) {
    if (mine !== generation.stats) return;
    box.dataset.state = 'error';
    showError(err, 'statistics');
  }
}

/** A bar chart: one bar per value, labels under the bars, a y axis with a few ticks. */
function barChart(node, { values, labels, yMax, yTicks, yFormat, xLabel, yLabel, barTestid, barTitle, valueText, reference, log = false }) {
  const W = 560;
  const H = 220;
  const m = { left: 48, right: 12, top: 18, bottom: 44 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const band = pw / values.length;
  const scale = log ? (v) => Math.log10(1 + v) / Math.log10(1 + yMax) : (v) => v / yMax;
  const y = (v) => m.top + ph - scale(v) * ph;
  const nodes = [];
  for (const tick of yTicks) {
    nodes.push(svg('line', { class: 'grid-line', x1: m.left, x2: m.left + pw, y1: y(tick), y2: y(tick) }));
    nodes.push(svg('text', { class: 'tick', x: m.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, yFormat(tick)));
  }
  // At most 16 labels under the bars: more would overlap.
  const every = Math.ceil(values.length / 16);
  values.forEach((value, i) => {
    const x = m.left + i * band;
    nodes.push(
      svg(
        'rect',
        { class: 'bar', x: x + band * 0.12, y: y(value), width: Math.max(1, band * 0.76), height: m.top + ph - y(value), 'data-testid': barTestid, 'data-index': i, 'data-value': value },
        svg('title', {}, barTitle(i, value)),
      ),
    );
    if (valueText) {
      nodes.push(svg('text', { class: 'value', x: x + band / 2, y: y(value) - 4, 'text-anchor': 'middle' }, valueText(value)));
    }
    if (i % every === 0) {
      nodes.push(svg('text', { class: 'tick', x: x + band / 2, y: H - m.bottom + 14, 'text-anchor': 'middle' }, labels[i]));
    }
  });
  if (reference !== undefined) {
    nodes.push(svg('line', { class: 'reference', x1: m.left, x2: m.left + pw, y1: y(reference), y2: y(reference) }));
  }
  nodes.push(svg('line', { class: 'axis', x1: m.left, x2: m.left + pw, y1: m.top + ph, y2: m.top + ph }));
  nodes.push(svg('text', { class: 'axis-label', x: m.left + pw / 2, y: H - 6, 'text-anchor': 'middle' }, xLabel));
  nodes.push(svg('text', { class: 'axis-label', transform: `translate(12 ${m.top + ph / 2}) rotate(-90)`, 'text-anchor': 'middle' }, yLabel));
  node.setAttribute('viewBox', `0 0 ${W} ${H}`);
  node.replaceChildren(...nodes);
}

function drawBuckets(histogram) {
  // Bins past the largest bucket are empty by construction: leave them out.
  let last = histogram.buckets.length - 1;
  while (last > 0 && histogram.buckets[last] === 0) last -= 1;
  const values = histogram.buckets.slice(0, last + 1);
  const labels = values.map((_, i) => {
    const low = histogram.low[i];
    const high = histogram.high[i];
    return low === high ? String(low) : `${compact(low)}–${compact(high)}`;
  });
  // Singletons outnumber the large buckets by orders of magnitude: a log scale shows both.
  const ticks = logTicks(Math.max(1, ...values));
  barChart($('bucket-chart'), {
    values,
    labels,
    yMax: Math.max(1, ...values),
    yTicks: ticks,
    yFormat: compact,
    log: true,
    xLabel: 'items in the bucket',
    yLabel: 'buckets (log scale)',
    barTestid: 'bucket-bar',
    barTitle: (i, v) => `${fmtInt(v)} buckets of ${labels[i]} items`,
    valueText: (v) => (v ? compact(v) : ''),
  });
}

function drawBalance(balance) {
  barChart($('balance-chart'), {
    values: balance,
    labels: balance.map((_, i) => String(i)),
    yMax: 1,
    yTicks: [0, 0.25, 0.5, 0.75, 1],
    yFormat: (v) => v.toFixed(2),
    xLabel: 'bit',
    yLabel: 'fraction of ones',
    barTestid: 'bit-bar',
    barTitle: (i, v) => `bit ${i}: ${fmtP(v)} of the items have a 1`,
    reference: 0.5,
  });
}

// -- views and bundles ---------------------------------------------------------------------

function showView(view) {
  state.view = ['explore', 'compare', 'stats'].includes(view) ? view : 'explore';
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.view === state.view;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${tab.dataset.view}`).hidden = !on;
  }
  writeHash();
  if (state.view === 'compare') runCompare();
  if (state.view === 'stats') runStats();
}

function selectBundle(name, { queryId = null } = {}) {
  const b = state.bundles.find((c) => c.name === name) || state.bundles[0];
  state.bundle = b;
  $('bundle-select').value = b.name;
  renderFacts();
  $('upload-label').hidden = !b.accepts_images;
  $('rerank-label').hidden = !b.can_rerank;
  if (!b.can_rerank) state.rerank = false;
  $('rerank').checked = state.rerank;
  const max = sliderMax();
  $('radius').max = String(max);
  state.radius = Math.min(state.radius, max);
  $('radius').value = String(state.radius);
  $('radius-value').textContent = String(state.radius);
  $('goto-id').placeholder = `0 .. ${b.n_items - 1}`;
  $('compare-id').placeholder = `0 .. ${b.n_items - 1}`;
  // A stored query carries over when its id exists here; an uploaded one is searched again.
  const previous = state.query;
  let keep = queryId;
  if (keep === null && previous && previous.kind === 'id') keep = previous.id;
  if (keep !== null && keep >= b.n_items) keep = null;
  setProfile(null);
  loadPage(keep === null ? 0 : Math.floor(keep / PAGE_SIZE) * PAGE_SIZE);
  if (previous && previous.kind === 'upload' && b.accepts_images) {
    runQuery();
  } else if (keep !== null) {
    selectItem(keep);
  } else {
    state.query = null;
    $('query-placeholder').hidden = false;
    $('query-body').hidden = true;
    writeHash();
  }
  if (state.view === 'compare') runCompare();
  if (state.view === 'stats') runStats();
}

function wire() {
  $('bundle-select').addEventListener('change', (event) => {
    clearMessage();
    selectBundle(event.target.value);
  });
  $('message-close').addEventListener('click', clearMessage);
  $('page-prev').addEventListener('click', () => loadPage(Math.max(0, state.offset - PAGE_SIZE)));
  $('page-next').addEventListener('click', () => loadPage(state.offset + PAGE_SIZE));
  $('goto-form').addEventListener('submit', (event) => {
    event.preventDefault();
    goToId($('goto-id').value);
  });
  $('random-item').addEventListener('click', () => goToId(String(randomId())));
  $('upload-input').addEventListener('change', (event) => {
    const [file] = event.target.files;
    selectUpload(file);
    // The same file chosen again is a new query.
    event.target.value = '';
  });
  // k applies as it is typed (once it is a valid number), on Enter and on leaving the box.
  let kTimer = null;
  const applyK = (strict) => {
    clearTimeout(kTimer);
    const raw = $('k-input').value;
    const k = Number(raw);
    const maxK = state.limits ? state.limits.max_k : 1000;
    if (raw === '' || !Number.isInteger(k) || k < 1 || k > maxK) {
      if (strict) {
        showMessage(`k must be a whole number in [1, ${maxK}], got ${raw || 'nothing'}`);
        $('k-input').value = String(state.k);
      }
      return;
    }
    if (k === state.k) return;
    clearMessage();
    state.k = k;
    if (state.query) runNeighbours();
  };
  $('k-input').addEventListener('input', () => {
    clearTimeout(kTimer);
    kTimer = setTimeout(() => applyK(false), 400);
  });
  $('k-input').addEventListener('change', () => applyK(true));
  $('k-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') applyK(true);
  });
  $('rerank').addEventListener('change', () => {
    state.rerank = $('rerank').checked;
    if (state.query) runNeighbours();
  });
  $('radius').addEventListener('input', onRadiusInput);
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener('click', () => showView(tab.dataset.view));
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      const tabs = [...document.querySelectorAll('[role="tab"]')];
      const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      showView(next.dataset.view);
    });
  }
  $('compare-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearMessage();
    const text = $('compare-id').value.trim();
    if (!/^-?\d+$/.test(text)) {
      showMessage('compare: enter a whole number as the query id');
      return;
    }
    state.compareId = Number(text);
    runCompare();
  });
  $('compare-random').addEventListener('click', () => {
    clearMessage();
    state.compareId = randomId();
    runCompare();
  });
}

async function start() {
  wire();
  let health;
  try {
    [state.bundles, state.limits, health] = await Promise.all([
      api('/bundles'),
      api('/limits'),
      api('/health'),
    ]);
  } catch (err) {
    showError(err, 'loading the bundles');
    return;
  }
  $('version').textContent = `version ${health.version}`;
  if (!state.bundles.length) {
    showMessage('This server holds no bundle.');
    return;
  }
  const select = $('bundle-select');
  select.replaceChildren(
    ...state.bundles.map((b) =>
      el('option', { value: b.name }, b.name),
    ),
  );
  document.body.dataset.bundles = String(state.bundles.length);
  const wanted = readHash();
  if (wanted.r !== null) state.radius = wanted.r;
  selectBundle(wanted.bundle || state.bundles[0].name, { queryId: wanted.q });
  showView(wanted.view || 'explore');
  document.body.dataset.ready = 'true';
}

start();
