// The HTML page's timeline readout: the values at the report nearest the
// pointer. memtrace's own script; it reads the figures from the timeline's
// data attributes and each series' name from its <title>.
(function () {
  'use strict';
  var svg = document.getElementById('tl');
  if (!svg) return;
  var ts = (svg.getAttribute('data-t') || '').split(',').map(Number);
  var L = +svg.getAttribute('data-l'), R = +svg.getAttribute('data-r');
  var tmax = +svg.getAttribute('data-tmax') || 1;
  var series = [].slice.call(svg.querySelectorAll('path.s')).map(function (p) {
    var t = p.querySelector('title');
    return {
      name: t ? t.textContent : '',
      v: (p.getAttribute('data-v') || '').split(',').map(function (x) {
        return x === '' ? null : Number(x);
      })
    };
  });
  var cursor = document.getElementById('tl-cursor');
  var out = document.getElementById('tl-readout');

  function fmtBytes(v) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], k = 0;
    while (v >= 1024 && k < u.length - 1) { v /= 1024; k++; }
    return (k ? v.toFixed(1) : String(v)) + ' ' + u[k];
  }

  function fmtAge(s) {
    if (s < 60) return s.toFixed(1) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + ('0' + Math.round(s % 60)).slice(-2) + 's';
    return Math.floor(s / 3600) + 'h' + ('0' + Math.floor(s % 3600 / 60)).slice(-2) + 'm';
  }

  function show(i) {
    var x = L + ts[i] / tmax * (R - L);
    cursor.setAttribute('x1', x);
    cursor.setAttribute('x2', x);
    cursor.setAttribute('visibility', 'visible');
    out.textContent = 't = ' + fmtAge(ts[i]) + ': ' + series.map(function (s) {
      return s.name + ' ' + (s.v[i] === null || s.v[i] === undefined ? '-' : fmtBytes(s.v[i]));
    }).join('; ');
  }

  svg.addEventListener('mousemove', function (e) {
    if (!ts.length || !svg.getScreenCTM()) return;
    var pt = svg.createSVGPoint();
    pt.x = e.clientX;
    pt.y = e.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    var t = (p.x - L) / (R - L) * tmax, best = 0;
    for (var i = 1; i < ts.length; i++)
      if (Math.abs(ts[i] - t) < Math.abs(ts[best] - t)) best = i;
    show(best);
  });
  svg.addEventListener('mouseleave', function () {
    cursor.setAttribute('visibility', 'hidden');
  });
  if (ts.length) show(ts.length - 1);
})();
