// The Map's linked highlights, drawn in the browser over each map (see map_overlay.py). The page
// fills in `mine`: {maps: [container keys], sel: [chunk ids], rings: [{name, colour, size, ids}],
// star: chunk id or null, dim: bool, source: index of the map the selection was drawn on}.
// Positions come from the map's own traces (chunk id -> x, y) and axes, so zoom and pan keep the
// highlights in place; the maps themselves are never redrawn.
(() => {
  const mine = /*DATA*/null;
  window.embedlabOverlay = mine;  // every hooked map draws the latest data, whichever run hooked it
  const maps = () => mine.maps.map(key => document.querySelector(`.st-key-${key} .js-plotly-plot`));

  function positions(gd) {  // chunk id -> [x, y, colour] over the map's point traces
    const cached = gd._embedlabPositions;
    if (cached && cached.data === gd._fullData) return cached.pos;
    const pos = new Map();
    for (const t of gd._fullData) {
      if (!(t.meta && t.meta[0] === 'chunks')) continue;
      const c = t.customdata, colour = t.marker && typeof t.marker.color === 'string' ? t.marker.color : '#777';
      for (let j = 0; j < c.length; j++) pos.set(Number(c[j]), [t.x[j], t.y[j], colour]);
    }
    gd._embedlabPositions = {data: gd._fullData, pos};
    return pos;
  }

  function canvasOf(gd) {
    let cv = gd.querySelector('canvas.embedlab-overlay');
    if (!cv) {  // above the points (svg + WebGL), below the legend, labels and hover (the top svg)
      const box = gd.querySelector('.svg-container'), svgs = box && box.querySelectorAll(':scope > svg.main-svg');
      if (!svgs || svgs.length < 2) return null;
      cv = document.createElement('canvas');
      cv.className = 'embedlab-overlay';
      cv.style.cssText = 'position:absolute;left:0;top:0;pointer-events:none';
      box.insertBefore(cv, svgs[1]);
    }
    return cv;
  }

  function draw(gd) {
    const D = window.embedlabOverlay, fl = gd._fullLayout;
    if (!fl || !fl.xaxis || !gd._fullData) return false;
    const i = D.maps.findIndex(key => gd.closest(`.st-key-${key}`));
    // an earlier box or lasso on another map than the selection's: its outline and its grips
    for (const layer of gd.querySelectorAll('.selectionlayer, .outline-controllers, [class^="select-outline"]')) {
      layer.style.display = D.source === null || D.source === i ? '' : 'none';
    }
    const cv = canvasOf(gd);
    if (!cv) return false;
    const dpr = window.devicePixelRatio || 1, xa = fl.xaxis, ya = fl.yaxis;
    cv.width = Math.round(fl.width * dpr);
    cv.height = Math.round(fl.height * dpr);
    cv.style.width = `${fl.width}px`;
    cv.style.height = `${fl.height}px`;
    const ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, fl.width, fl.height);
    const drawn = {selection: [], rings: {}, star: null};
    ctx.save();
    ctx.beginPath();
    ctx.rect(xa._offset, ya._offset, xa._length, ya._length);
    ctx.clip();
    if (D.dim) {  // the rest of the map recedes
      ctx.fillStyle = 'rgba(255,255,255,0.62)';
      ctx.fillRect(xa._offset, ya._offset, xa._length, ya._length);
    }
    const pos = positions(gd);
    const at = id => { const p = pos.get(id); return p && [xa._offset + xa.l2p(p[0]), ya._offset + ya.l2p(p[1]), p[2]]; };
    const big = D.sel.length > 5000;  // many points: smaller marks, so the selection keeps its shape
    ctx.lineWidth = big ? 0.8 : 1.2;
    ctx.strokeStyle = '#111';
    for (const id of D.sel) {  // each selected chunk in its own colour, ringed in black
      const p = at(id);
      if (!p) continue;
      drawn.selection.push(id);
      ctx.beginPath();
      ctx.arc(p[0], p[1], big ? 2.4 : 3.6, 0, 2 * Math.PI);
      ctx.fillStyle = p[2];
      ctx.fill();
      ctx.stroke();
    }
    for (const ring of D.rings) {  // each model's neighbours, ringed in that model's colour
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = ring.colour;
      drawn.rings[ring.name] = [];
      for (const id of ring.ids) {
        const p = at(id);
        if (!p) continue;
        drawn.rings[ring.name].push(id);
        ctx.beginPath();
        ctx.arc(p[0], p[1], ring.size / 2, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    const s = D.star === null ? null : at(D.star);
    if (s) {
      drawn.star = D.star;
      ctx.beginPath();
      for (let k = 0; k < 10; k++) {
        const r = k % 2 ? 3.8 : 9, a = -Math.PI / 2 + k * Math.PI / 5;
        ctx.lineTo(s[0] + r * Math.cos(a), s[1] + r * Math.sin(a));
      }
      ctx.closePath();
      ctx.fillStyle = '#111';
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = '#fff';
      ctx.stroke();
    }
    ctx.restore();
    key(ctx, xa, ya, drawn);
    drawn.selection.sort((a, b) => a - b);
    gd._embedlabDrawn = drawn;  // what this map shows (the tests and the bench read it)
    return true;
  }

  function key(ctx, xa, ya, drawn) {  // what the marks mean, in the plot's top right corner
    const D = window.embedlabOverlay, rows = [];
    if (D.sel.length) rows.push(['sel', '#111', `selected (${drawn.selection.length.toLocaleString('en')})`]);
    for (const ring of D.rings) rows.push(['ring', ring.colour, ring.name]);
    if (drawn.star !== null) rows.push(['star', '#111', `chunk ${drawn.star}`]);
    if (!rows.length) return;
    ctx.font = '11px sans-serif';
    const w = 26 + Math.max(...rows.map(r => ctx.measureText(r[2]).width)), h = 8 + 16 * rows.length;
    const x = xa._offset + xa._length - w - 4, y = ya._offset + 4;
    ctx.fillStyle = 'rgba(255,255,255,0.88)';
    ctx.fillRect(x, y, w, h);
    rows.forEach(([kind, colour, text], i) => {
      const cy = y + 12 + 16 * i;
      ctx.beginPath();
      ctx.arc(x + 11, cy, kind === 'ring' ? 5 : 3.6, 0, 2 * Math.PI);
      ctx.lineWidth = kind === 'ring' ? 2 : 1.2;
      ctx.strokeStyle = colour;
      if (kind !== 'ring') { ctx.fillStyle = kind === 'star' ? '#111' : '#bbb'; ctx.fill(); }
      ctx.stroke();
      ctx.fillStyle = '#222';
      ctx.textBaseline = 'middle';
      ctx.fillText(text, x + 21, cy);
    });
  }

  function hook(gd) {
    if (gd._embedlabHooked) return;
    gd._embedlabHooked = true;  // redrawn after every zoom, pan, resize or restyle of the map
    for (const ev of ['plotly_afterplot', 'plotly_relayouting', 'plotly_relayout']) gd.on(ev, () => draw(gd));
  }

  function apply() {
    let all = true;
    for (const gd of maps()) {
      if (!gd || !gd.on || !draw(gd)) { all = false; continue; }
      hook(gd);
    }
    return all;
  }

  if (!apply()) {  // a map still being drawn: try again on the next frames
    const until = performance.now() + 20000;
    const retry = () => { if (window.embedlabOverlay === mine && !apply() && performance.now() < until) requestAnimationFrame(retry); };
    requestAnimationFrame(retry);
  }
  if (!window.embedlabOverlayWatch) {  // a map drawn again from scratch (new figure): hook and draw it too
    window.embedlabOverlayWatch = setInterval(() => {
      const cur = window.embedlabOverlay;
      if (!cur) return;
      for (const key of cur.maps) {
        const gd = document.querySelector(`.st-key-${key} .js-plotly-plot`);
        if (gd && gd.on && gd._fullLayout && !gd._embedlabHooked && draw(gd)) hook(gd);
      }
    }, 250);
  }
})();
