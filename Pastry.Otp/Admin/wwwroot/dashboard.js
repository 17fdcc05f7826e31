// The Pastry dashboard: one server-sent event a second (/events) redraws everything; no libraries, no CDN.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const empty = '00000000-0000-0000-0000-000000000000';
  const pageSize = 50;
  const history = [];          // { t, counters } for the rate charts
  const palette = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f', '#5d4037', '#ad1457'];
  const classColours = {};
  let offset = 0, filter = '', source = null;

  // What the map shows now, for people and for browser tests: id -> { x, y, label, cls } in grid cells.
  window.pastryMap = { dots: {}, updates: 0 };

  const short = (id) => id && id !== empty ? id.slice(-12) : '—';
  const colourOf = (cls) => classColours[cls] ??= palette[Object.keys(classColours).length % palette.length];
  const text = (tag, content, cls) => { const e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; };
  const row = (cells) => { const tr = document.createElement('tr'); for (const c of cells) tr.append(c instanceof Node ? wrap(c) : text('td', String(c))); return tr; };
  const wrap = (node) => { const td = document.createElement('td'); td.append(node); return td; };
  const fill = (table, rows) => { const body = table.tBodies[0]; body.replaceChildren(...rows); };

  function connect() {
    if (source) source.close();
    const query = new URLSearchParams({ offset, count: pageSize, filter });
    source = new EventSource('events?' + query);
    source.onmessage = (e) => render(JSON.parse(e.data));
    source.onerror = () => { $('status').textContent = 'reconnecting…'; $('status').className = 'pill bad'; };
  }

  function render(o) {
    $('status').textContent = 'live'; $('status').className = 'pill ok';
    $('clock').textContent = `pid ${o.processId} · ${new Date(o.at).toLocaleTimeString()}`;
    $('readiness').replaceChildren(...o.readiness.map(r => { const s = text('span', r.name, 'pill ' + (r.ready ? 'ok' : 'bad')); s.title = r.detail; return s; }));
    if (o.counters) renderRates(o.at, o.counters);
    if (o.sessions) renderSessions(o.sessions);
    if (o.state) { renderWorld(o.state); renderMap(o.map, o.state); }
    renderEjects(o.ejects);
    renderDatabase(o.database);
  }

  const rateDefs = [
    ['frames out', c => c.framesOut], ['bytes out', c => c.bytesOut], ['frames in', c => c.framesIn], ['bytes in', c => c.bytesIn],
    ['deliveries', c => c.deliveries], ['logins', c => c.logins], ['ejects', c => c.ejects], ['db writes', c => c.databaseWrites],
  ];
  const gauges = [['sessions', c => c.sessions], ['interests', c => c.interests], ['MD links', c => c.messageDirectorLinks]];

  function renderRates(at, counters) {
    history.push({ t: Date.parse(at) / 1000, c: counters });
    while (history.length > 121) history.shift();
    const box = $('rates');
    if (!box.children.length) {
      for (const [name] of [...gauges, ...rateDefs]) {
        const div = document.createElement('div'); div.className = 'chart';
        div.append(text('div', name), document.createElement('canvas'));
        div.lastChild.width = 220; div.lastChild.height = 50; div.firstChild.append(' ', text('span', '', 'value'));
        box.append(div);
      }
    }
    const series = [
      ...gauges.map(([, f]) => history.map(h => f(h.c))),
      ...rateDefs.map(([, f]) => history.slice(1).map((h, i) => Math.max(0, (f(h.c) - f(history[i].c)) / Math.max(0.001, h.t - history[i].t)))),
    ];
    series.forEach((values, i) => {
      const chart = box.children[i];
      chart.querySelector('.value').textContent = values.length ? Math.round(values[values.length - 1]).toLocaleString() : '…';
      spark(chart.querySelector('canvas'), values);
    });
  }

  function spark(canvas, values) {
    const g = canvas.getContext('2d'), w = canvas.width, h = canvas.height;
    g.clearRect(0, 0, w, h);
    if (values.length < 2) return;
    const max = Math.max(1, ...values);
    g.strokeStyle = '#1565c0'; g.lineWidth = 1.5; g.beginPath();
    const step = w / Math.max(values.length - 1, 20);
    values.forEach((v, i) => { const x = i * step, y = h - 2 - (v / max) * (h - 4); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }

  function renderSessions(page) {
    $('session-count').textContent = `(${page.total.toLocaleString()})`;
    $('page').textContent = page.total ? `${page.offset + 1}–${Math.min(page.total, page.offset + page.items.length)} of ${page.total}` : 'none';
    fill($('sessions'), page.items.map(s => {
      const button = text('button', 'Eject', 'eject');
      button.dataset.session = s.id;
      button.onclick = () => eject(s.id);
      const tr = row([text('span', short(s.id), 'mono'), text('span', short(s.account), 'mono'), s.address, s.stage, s.interests, s.visible, s.outboxBytes + ' B', new Date(s.connectedAt).toLocaleTimeString(), button]);
      tr.dataset.session = s.id; tr.dataset.account = s.account;
      return tr;
    }));
  }

  async function eject(id) {
    const reason = $('eject-reason').value.trim();
    const response = await fetch(`api/sessions/${id}/eject`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Pastry-Admin': '1' }, body: JSON.stringify({ reason }) });
    const body = await response.json().catch(() => ({}));
    $('action-result').textContent = response.ok ? `ejected ${short(id)} (code ${body.code})` : `eject failed: ${body.detail || response.status}`;
  }

  function renderWorld(state) {
    $('object-count').textContent = `(${state.objects.toLocaleString()} in ${state.zones.toLocaleString()} zones)`;
    const byId = Object.fromEntries(state.parents.map(p => [p.id, p]));
    const zonesOf = {};
    for (const z of state.locations) (zonesOf[z.parent] ??= []).push(z);
    const name = (id) => byId[id] ? `${byId[id].label || short(id)} (${byId[id].class})` : (id === empty ? 'root' : short(id));
    const build = (parent, depth) => {
      const ul = document.createElement('ul');
      for (const z of (zonesOf[parent] || []).sort((a, b) => a.zone - b.zone)) {
        const li = text('li', `zone ${z.zone}: ${z.count} object${z.count === 1 ? '' : 's'}`);
        const children = state.parents.filter(p => p.parent === parent && p.zone === z.zone);
        for (const child of children) {
          const sub = text('li', name(child.id));
          if (depth < 6) sub.append(build(child.id, depth + 1));
          const inner = document.createElement('ul'); inner.append(sub); li.append(inner);
        }
        ul.append(li);
      }
      return ul;
    };
    const roots = state.parents.filter(p => p.parent === empty);
    const tree = document.createElement('ul');
    for (const root of roots) { const li = text('li', name(root.id)); li.append(build(root.id, 1)); tree.append(li); }
    $('zone-tree').replaceChildren(tree);
    fill($('ais'), state.ais.map(a => row([text('span', a.ai, 'mono'), a.objects])));
  }

  function renderMap(map, state) {
    const canvas = $('map'), g = canvas.getContext('2d');
    if (map.parent === empty) { $('map-title').textContent = '(no Admin:Map:Parent configured)'; return; }
    const parent = state.parents.find(p => p.id === map.parent);
    $('map-title').textContent = `${parent ? parent.label || parent.class : short(map.parent)}: ${map.width}×${map.height} cells, ${state.map.length} objects`;
    const cw = canvas.width / map.width, ch = canvas.height / map.height;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.strokeStyle = '#cfd8c4';
    for (let x = 0; x <= map.width; x++) { g.beginPath(); g.moveTo(x * cw, 0); g.lineTo(x * cw, canvas.height); g.stroke(); }
    for (let y = 0; y <= map.height; y++) { g.beginPath(); g.moveTo(0, y * ch); g.lineTo(canvas.width, y * ch); g.stroke(); }
    const dots = {};
    const holders = new Set(state.rooms.map(r => r.parent));
    for (const o of state.map) {
      const cell = o.zone - map.firstZone;
      let x, y;
      if (o.position && map.cellSize > 0) { x = o.position[0] / map.cellSize; y = o.position[1] / map.cellSize; }
      else { x = (cell % map.width) + 0.5 + jitter(o.id, 0); y = Math.floor(cell / map.width) + 0.5 + jitter(o.id, 1); }
      dots[o.id] = { x, y, label: o.label, cls: o.class };
      // North (larger y) is up, as the Tavern's "w" walks.
      const px = x * cw, py = canvas.height - y * ch;
      g.fillStyle = colourOf(o.class);
      if (holders.has(o.id)) { g.fillRect(px - 8, py - 8, 16, 16); } else { g.beginPath(); g.arc(px, py, 5, 0, 2 * Math.PI); g.fill(); }
      g.fillStyle = '#2b2622'; g.font = '11px system-ui'; g.fillText(o.label || o.class, px + 7, py - 5);
    }
    window.pastryMap = { dots, updates: window.pastryMap.updates + 1 };
    const names = state.map.filter(o => !holders.has(o.id)).map(o => `${o.label || short(o.id)} (${o.class})`).sort();
    $('map-objects').textContent = names.slice(0, 300).join(', ') + (names.length > 300 ? ` and ${names.length - 300} more` : '');
    $('map-legend').replaceChildren(...Object.keys(classColours).map(c => { const s = text('span', c); const i = document.createElement('i'); i.style.background = classColours[c]; s.prepend(i); return s; }));
    const groups = {};
    for (const r of state.rooms) (groups[`${r.parent}/${r.zone}`] ??= []).push(r);
    const list = document.createElement('ul');
    for (const key of Object.keys(groups).sort()) {
      const [holder, zone] = key.split('/');
      const h = state.map.find(m => m.id === holder);
      list.append(text('li', `${h ? h.label || h.class : short(holder)}, room ${zone}: ${groups[key].map(r => `${r.label || short(r.id)} (${r.class})`).join(', ')}`));
    }
    $('rooms').replaceChildren(list);
  }

  // A stable offset inside the cell for objects without a position, so that they do not hide one another.
  function jitter(id, salt) {
    let h = salt * 7919;
    for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) | 0;
    return ((Math.abs(h) % 1000) / 1000 - 0.5) * 0.7;
  }

  function renderEjects(ejects) {
    fill($('ejects'), ejects.slice(0, 30).map(e => row([new Date(e.at).toLocaleTimeString(), text('span', short(e.session), 'mono'), text('span', short(e.account), 'mono'), e.address, `${e.code} ${e.codeName}`, e.reason])));
  }

  function renderDatabase(db) {
    const dl = $('database');
    if (!db) { dl.replaceChildren(text('dd', 'no OTP in this process')); return; }
    const items = db.enabled
      ? [['state', db.open ? 'open, migrated' : 'closed'], ['file', db.path], ['batches', db.batches], ['writes', db.writes], ['queued', db.queued], ['last error', db.lastError || 'none']]
      : [['state', 'off (objects are kept in memory only)']];
    dl.replaceChildren(...items.flatMap(([k, v]) => [text('dt', k), text('dd', String(v))]));
  }

  $('prev-page').onclick = () => { offset = Math.max(0, offset - pageSize); connect(); };
  $('next-page').onclick = () => { offset += pageSize; connect(); };
  let typing;
  $('session-filter').oninput = (e) => { clearTimeout(typing); typing = setTimeout(() => { filter = e.target.value; offset = 0; connect(); }, 300); };
  connect();
})();
