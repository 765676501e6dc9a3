// The flame graph's behaviour: zoom, search, colours and the state in the
// URL. memtrace's own script (no library); the same in a standalone SVG
// file and in memtrace's HTML page. The writer calls this function with
// the <svg> element. It only reads the document: frame names come from
// each frame's <title>, never from this script, so that no name from the
// traced program is ever script text.
(function (svg) {
  'use strict';
  if (!svg || svg.getAttribute('data-ready')) return;
  svg.setAttribute('data-ready', '1');
  var NL = String.fromCharCode(10);
  var id = svg.id;
  var W = +svg.getAttribute('data-w'), PAD = +svg.getAttribute('data-pad');
  var frames = [], byPath = {};
  var gs = svg.querySelectorAll('g.f'), growthFirst = svg.getAttribute('data-color') === 'g';
  for (var i = 0; i < gs.length; i++) {
    var g = gs[i], t = g.querySelector('title');
    // The fill is the first colour; data-c, with a baseline, the other.
    var fill = g.querySelector('rect').getAttribute('fill'), other = g.getAttribute('data-c');
    var f = {
      g: g, rect: g.querySelector('rect'), text: g.querySelector('text'),
      v: +g.getAttribute('data-v'), o: +g.getAttribute('data-o'),
      d: +g.getAttribute('data-d'), p: g.getAttribute('data-p'),
      name: t ? t.textContent.split(NL)[0] : '',
      info: t ? t.textContent : '',
      cm: growthFirst ? other : fill,
      cg: growthFirst ? fill : other
    };
    frames.push(f);
    byPath[f.p] = f;
  }
  if (!frames.length) return;
  var root = frames[0];
  var el = function (name) { return document.getElementById(id + '-' + name); };
  var details = el('details'), matchedEl = el('matched'), reset = el('reset');
  var clear = el('clear'), mode = el('mode');

  // Character width of the labels' font, in the SVG's units.
  var cw = 7.2;
  if (root.text && root.text.getComputedTextLength) {
    var probe = root.text.textContent;
    root.text.textContent = 'mmmmmmmmmm';
    var len = root.text.getComputedTextLength();
    if (len > 0) cw = len / 10;
    root.text.textContent = probe;
  }

  function label(f, x, w) {
    var n = Math.floor((w - 6) / cw), s = f.name;
    if (n < 3) s = '';
    else if (s.length > n) s = s.slice(0, n - 2) + '..';
    f.text.textContent = s;
    f.text.setAttribute('x', (x + 3).toFixed(2));
  }

  function place(f, x, w) {
    f.rect.setAttribute('x', x.toFixed(2));
    f.rect.setAttribute('width', Math.max(w, 0).toFixed(2));
    label(f, x, w);
  }

  var state = { zoom: null, search: '', color: svg.getAttribute('data-color') || 'm' };

  function saveState() {
    var q = [];
    if (state.zoom) q.push('zoom=' + encodeURIComponent(state.zoom.p));
    if (state.search) q.push('search=' + encodeURIComponent(state.search));
    if (state.color !== (svg.getAttribute('data-color') || 'm')) q.push('color=' + state.color);
    var h = q.length ? '#' + q.join('&') : ' ';
    try {
      history.replaceState(null, '', h === ' ' ? location.pathname + location.search : h);
    } catch (e) {
      if (h !== ' ') location.hash = h;
    }
  }

  function zoom(z) {
    state.zoom = z && z !== root ? z : null;
    z = state.zoom || root;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (f.d >= z.d && f.o >= z.o && f.o + f.v <= z.o + z.v && (f.d > z.d || f === z)) {
        f.g.classList.remove('hide', 'anc');
        place(f, PAD + (f.o - z.o) / z.v * W, f.v / z.v * W);
      } else if (f.d < z.d && f.o <= z.o && f.o + f.v >= z.o + z.v) {
        f.g.classList.remove('hide');
        f.g.classList.add('anc');
        place(f, PAD, W);
      } else {
        f.g.classList.add('hide');
      }
    }
    if (reset) reset.classList.toggle('hide', !state.zoom);
    saveState();
  }

  function colors() {
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.rect.setAttribute('fill', f.hit ? 'rgb(230,0,230)' :
        (state.color === 'g' && f.cg ? f.cg : f.cm));
    }
    if (mode) mode.textContent = state.color === 'g' ? 'Colour: growth' : 'Colour: memory';
  }

  function fmtBytes(v) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], k = 0;
    while (v >= 1024 && k < u.length - 1) { v /= 1024; k++; }
    return (k ? v.toFixed(1) : String(v)) + ' ' + u[k];
  }

  function search(s) {
    var re = null;
    state.search = s || '';
    if (state.search) {
      try { re = new RegExp(state.search); } catch (e) { re = null; }
    }
    var hits = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.hit = !!(re && f !== root && re.test(f.name));
      if (f.hit) hits.push(f);
    }
    // The share of the bytes under some matched frame, each byte once:
    // frames nested in a matched one are inside its interval.
    hits.sort(function (a, b) { return a.o - b.o || a.d - b.d; });
    var bytes = 0, until = -1;
    for (var j = 0; j < hits.length; j++) {
      if (hits[j].o >= until) { bytes += hits[j].v; until = hits[j].o + hits[j].v; }
    }
    colors();
    if (matchedEl) {
      matchedEl.textContent = !state.search ? '' : re === null ? 'not a regular expression' :
        'Matched: ' + (root.v ? (100 * bytes / root.v).toFixed(2) : '0.00') + '% (' +
        fmtBytes(bytes) + ', ' + hits.length + ' frame' + (hits.length === 1 ? '' : 's') + ')';
      matchedEl.setAttribute('data-bytes', String(bytes));
    }
    if (clear) clear.classList.toggle('hide', !state.search);
    saveState();
  }

  function ask() {
    var s = prompt('Search frames (regular expression)', state.search);
    if (s !== null) search(s);
  }

  svg.addEventListener('click', function (e) {
    var g = e.target.closest ? e.target.closest('g.f') : null;
    if (g) { for (var i = 0; i < frames.length; i++) if (frames[i].g === g) zoom(frames[i]); return; }
    var b = e.target.closest ? e.target.closest('.btn') : null;
    if (!b) return;
    if (b === reset) zoom(null);
    else if (b === clear) search('');
    else if (b === mode) { state.color = state.color === 'g' ? 'm' : 'g'; colors(); saveState(); }
    else if (b.id === id + '-search') ask();
  });
  svg.addEventListener('mouseover', function (e) {
    var g = e.target.closest ? e.target.closest('g.f') : null;
    if (!g || !details) return;
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].g !== g) continue;
      var d = frames[i].info.split(NL).join(' | '), n = Math.floor(W / cw);
      details.textContent = d.length > n ? d.slice(0, n - 2) + '..' : d;
    }
  });
  svg.addEventListener('mouseout', function () { if (details) details.textContent = ' '; });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F')) { e.preventDefault(); ask(); }
    else if (e.key === 'Escape') { zoom(null); search(''); }
  });

  // The state from the URL: #zoom=PATH&search=REGEX&color=g
  var h = location.hash.replace(/^#/, '').split('&');
  for (var k = 0; k < h.length; k++) {
    var kv = h[k].split('='), v;
    if (kv.length < 2) continue;
    try { v = decodeURIComponent(kv.slice(1).join('=')); } catch (e) { continue; }
    if (kv[0] === 'zoom' && byPath[v]) state.zoom = byPath[v];
    else if (kv[0] === 'search') state.search = v;
    else if (kv[0] === 'color' && (v === 'g' || v === 'm')) state.color = v;
  }
  svg.memtrace = { zoom: function (p) { zoom(byPath[p] || null); }, search: search,
    state: state, frames: frames };
  search(state.search);
  zoom(state.zoom);
})
