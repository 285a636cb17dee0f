(function () {
  "use strict";
  // Every user string (class, feature and stage names) is written with textContent only.
  const D = JSON.parse(document.getElementById("data").textContent);
  const COLORS = D.colors, NS = "http://www.w3.org/2000/svg";
  const smp = D.samples, N = smp.index.length;
  const tip = document.getElementById("tip");
  const M = {l: 54, r: 24, t: 8, b: 38};

  function node(tag, cls, parent) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svgNode(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  function decode(block, box) {  // 16-bit integers over the box (reportdata.encode)
    const bin = atob(block.b64), out = new Float32Array(bin.length / 2);
    const x0 = box[0][0], y0 = box[1][0];
    const kx = (box[0][1] - x0) / 65534, ky = (box[1][1] - y0) / 65534;
    for (let i = 0; i < out.length; i++) {
      let q = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      if (q >= 32768) q -= 65536;
      out[i] = i % 2 ? y0 + (q + 32767) * ky : x0 + (q + 32767) * kx;
    }
    return out;
  }
  function niceStep(span, count) {
    const raw = span / Math.max(count, 1), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  }
  function ticks(lo, hi, count, log) {  // tick positions in axis units (log10 on a log axis)
    if (log && hi - lo >= 2) {
      const step = Math.max(1, Math.round(niceStep(hi - lo, count))), out = [];
      for (let e = Math.ceil(lo / step) * step; e <= hi; e += step) out.push(e);
      return out;
    }
    if (log) {  // less than two decades: 1-2-5 ticks between, or even ticks of the value
      const out = [];
      for (let e = Math.floor(lo); e <= hi; e++) {
        for (const m of [1, 2, 5]) { const v = e + Math.log10(m); if (v >= lo && v <= hi) out.push(v); }
      }
      if (out.length >= 3) return out;
      return ticks(Math.pow(10, lo), Math.pow(10, hi), count, false).filter(v => v > 0).map(Math.log10);
    }
    const step = niceStep(hi - lo, count), out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function label(v, log) {
    const x = log ? Math.pow(10, v) : v;
    if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(0);
    return String(Number(x.toPrecision(4)));
  }

  // A chart: a canvas for the data, an SVG over it for the axes; zoom (wheel, buttons), pan
  // or select (drag), reset (double-click). Charts that share a view zoom and pan together.
  const charts = [];
  function View(x, y) { return {x: x.slice(), y: y.slice(), home: [x.slice(), y.slice()], charts: []}; }
  function Chart(host, o) {
    const c = this;
    c.o = o; c.view = o.view; c.view.charts.push(c);
    c.fig = node("figure", "chart", host);
    const cap = node("figcaption", "", c.fig);
    node("b", "", cap).textContent = o.title;
    c.status = node("span", "status", cap);
    c.box = node("div", "plot", c.fig);
    c.canvas = node("canvas", "", c.box);
    c.canvas.setAttribute("role", "img");
    c.canvas.setAttribute("aria-label", o.title);
    c.svg = svgNode("svg", {"class": "axes"}, c.box);
    if (o.legend) {
      const lg = node("div", "legend", c.fig);
      o.legend.forEach(([name, color]) => {
        const s = node("span", "", lg);
        node("i", "line", s).style.background = color;
        s.appendChild(document.createTextNode(name));
      });
    }
    c.bind();
    charts.push(c);
  }
  Chart.prototype.fn = function (axis) {  // data value -> CSS pixel
    const v = this.view[axis], log = axis === "x" ? this.o.xlog : this.o.ylog;
    const a = axis === "x" ? M.l : this.h - M.b, b = axis === "x" ? this.w - M.r : M.t;
    return t => { const u = log ? Math.log10(t) : t; return a + (u - v[0]) / (v[1] - v[0]) * (b - a); };
  };
  Chart.prototype.inverse = function (px, py) {  // CSS pixel -> axis units
    const v = this.view;
    return [v.x[0] + (px - M.l) / (this.w - M.l - M.r) * (v.x[1] - v.x[0]),
            v.y[0] + (this.h - M.b - py) / (this.h - M.b - M.t) * (v.y[1] - v.y[0])];
  };
  Chart.prototype.size = function () {
    const w = Math.max(200, Math.floor(this.box.clientWidth));
    const h = Math.round(Math.min(w * this.o.aspect, 520));
    const r = window.devicePixelRatio || 1;
    this.w = w; this.h = h;
    this.canvas.width = w * r; this.canvas.height = h * r;
    this.canvas.style.height = h + "px";
    this.svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    this.svg.setAttribute("height", h);
    this.ratio = r;
  };
  Chart.prototype.draw = function () {
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    ctx.save();
    ctx.beginPath(); ctx.rect(M.l, M.t, this.w - M.l - M.r, this.h - M.t - M.b); ctx.clip();
    this.o.draw(ctx, this.fn("x"), this.fn("y"), this);
    ctx.restore();
    if (this.band) {
      ctx.strokeStyle = "#333"; ctx.setLineDash([4, 3]);
      const [a, b] = this.band;
      ctx.strokeRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]));
      ctx.setLineDash([]);
    }
    this.axes();
  };
  Chart.prototype.axes = function () {
    const s = this.svg, w = this.w, h = this.h, v = this.view, o = this.o;
    while (s.firstChild) s.removeChild(s.firstChild);
    svgNode("rect", {x: M.l, y: M.t, width: w - M.l - M.r, height: h - M.t - M.b, "class": "frame"}, s);
    const xt = ticks(v.x[0], v.x[1], Math.max(2, Math.floor((w - M.l) / 70)), o.xlog);
    const yt = ticks(v.y[0], v.y[1], Math.max(2, Math.floor(h / 45)), o.ylog);
    xt.forEach(t => {
      const px = M.l + (t - v.x[0]) / (v.x[1] - v.x[0]) * (w - M.l - M.r);
      svgNode("line", {x1: px, x2: px, y1: h - M.b, y2: h - M.b + 5, "class": "tick"}, s);
      svgNode("text", {x: px, y: h - M.b + 16, "text-anchor": "middle", "class": "tick x"}, s).textContent = label(t, o.xlog);
    });
    yt.forEach(t => {
      const py = h - M.b - (t - v.y[0]) / (v.y[1] - v.y[0]) * (h - M.b - M.t);
      svgNode("line", {x1: M.l - 5, x2: M.l, y1: py, y2: py, "class": "tick"}, s);
      svgNode("text", {x: M.l - 7, y: py + 4, "text-anchor": "end", "class": "tick y"}, s).textContent = label(t, o.ylog);
    });
    svgNode("text", {x: (M.l + w - M.r) / 2, y: h - 4, "text-anchor": "middle", "class": "label x"}, s).textContent = o.xlabel + (o.xlog ? " (log)" : "");
    const ly = (M.t + h - M.b) / 2;
    svgNode("text", {x: 12, y: ly, transform: "rotate(-90 12 " + ly + ")", "text-anchor": "middle", "class": "label y"}, s).textContent = o.ylabel + (o.ylog ? " (log)" : "");
  };
  Chart.prototype.zoom = function (k, px, py) {  // k < 1 zooms in, around the pixel
    const v = this.view, [cx, cy] = px === undefined ? [(v.x[0] + v.x[1]) / 2, (v.y[0] + v.y[1]) / 2] : this.inverse(px, py);
    v.x = [cx + (v.x[0] - cx) * k, cx + (v.x[1] - cx) * k];
    v.y = [cy + (v.y[0] - cy) * k, cy + (v.y[1] - cy) * k];
    v.charts.forEach(ch => ch.draw());
  };
  Chart.prototype.bind = function () {
    const c = this, cv = this.canvas;
    let down = null;
    const at = ev => { const r = cv.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
    cv.addEventListener("wheel", ev => { ev.preventDefault(); const [x, y] = at(ev); c.zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, x, y); }, {passive: false});
    cv.addEventListener("dblclick", () => c.reset());
    cv.addEventListener("pointerdown", ev => {
      down = {p: at(ev), x: c.view.x.slice(), y: c.view.y.slice(), moved: false};
      try { cv.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic pointer */ }
    });
    cv.addEventListener("pointermove", ev => {
      const p = at(ev);
      if (!down) { if (c.o.hover) c.o.hover(c, p, ev); return; }
      if (Math.hypot(p[0] - down.p[0], p[1] - down.p[1]) > 3) down.moved = true;
      if (!down.moved) return;
      if (state.drag === "select" && c.o.select) { c.band = [down.p, p]; c.draw(); return; }
      const kx = (down.x[1] - down.x[0]) / (c.w - M.l - M.r), ky = (down.y[1] - down.y[0]) / (c.h - M.t - M.b);
      const dx = (p[0] - down.p[0]) * kx, dy = (p[1] - down.p[1]) * ky;
      c.view.x = [down.x[0] - dx, down.x[1] - dx]; c.view.y = [down.y[0] + dy, down.y[1] + dy];
      c.view.charts.forEach(ch => ch.draw());
    });
    cv.addEventListener("pointerup", ev => {
      const p = at(ev), d = down; down = null;
      if (!d) return;
      if (!d.moved) {  // a tap on a touch screen also shows what a hover would
        if (ev.pointerType && ev.pointerType !== "mouse" && c.o.hover) c.o.hover(c, p, ev);
        if (c.o.click) c.o.click(c, p);
        return;
      }
      if (c.band) { c.band = null; c.o.select(c, c.inverse(...d.p), c.inverse(...p)); }
    });
    cv.addEventListener("pointerleave", () => { if (!down && c.o.leave) c.o.leave(c); });
  };
  Chart.prototype.reset = function () {
    this.view.x = this.view.home[0].slice(); this.view.y = this.view.home[1].slice();
    this.view.charts.forEach(ch => ch.draw());
  };

  // The state every panel shares: one clock, the hovered sample, the selection, the paths.
  const state = {clock: 0, hover: -1, selected: null, paths: new Set(), moved: false, drag: "pan"};
  const pre = D.stages.find(s => s.phase === "pretrain");
  const TP = pre ? pre.steps.length : 0;
  const TF = D.stages.filter(s => s.phase === "finetune").map(s => s.steps.length)[0] || 0;
  const stages = D.stages.map(s => Object.assign({}, s, {xy: decode(s.frames, D.box), T: s.steps.length}));
  function frameOf(s) { return s.phase === "pretrain" ? Math.min(state.clock, s.T - 1) : Math.max(0, Math.min(state.clock - TP, s.T - 1)); }
  const preStage = stages.find(s => s.phase === "pretrain");

  function drawSamples(ctx, X, Y, xy, off, dim) {
    const order = [];
    for (let i = 0; i < N; i++) order.push(i);
    if (state.selected) order.sort((a, b) => state.selected.has(a) - state.selected.has(b));
    order.forEach(i => {
      const color = COLORS[smp.label[i] % COLORS.length], train = smp.train[i], lab = smp.labelled[i];
      const faded = state.selected && !state.selected.has(i);
      ctx.globalAlpha = (faded ? 0.08 : train && !lab ? 0.45 : 0.9) * dim;
      ctx.beginPath();
      ctx.arc(X(xy[off + 2 * i]), Y(xy[off + 2 * i + 1]), train && !lab ? 2.5 : 4, 0, 2 * Math.PI);
      if (train) { ctx.fillStyle = color; ctx.fill(); } else { ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke(); }
    });
    ctx.globalAlpha = 1;
  }
  function drawPath(ctx, X, Y, s, i, upto) {
    ctx.strokeStyle = "#222"; ctx.lineWidth = 1.2; ctx.beginPath();
    for (let t = 0; t < s.T; t++) {
      const o = t * N * 2 + 2 * i;
      if (t === 0) ctx.moveTo(X(s.xy[o]), Y(s.xy[o + 1])); else ctx.lineTo(X(s.xy[o]), Y(s.xy[o + 1]));
    }
    ctx.stroke();
    for (let t = 0; t < s.T; t++) {
      const o = t * N * 2 + 2 * i;
      ctx.fillStyle = t <= upto ? "#222" : "#bbb";
      ctx.beginPath(); ctx.arc(X(s.xy[o]), Y(s.xy[o + 1]), 2, 0, 2 * Math.PI); ctx.fill();
    }
  }
  function drawArrows(ctx, X, Y, from, to, off) {
    ctx.lineWidth = 1;
    for (let i = 0; i < N; i++) {
      if (state.selected && !state.selected.has(i)) continue;
      const x0 = X(from[2 * i]), y0 = Y(from[2 * i + 1]), x1 = X(to[off + 2 * i]), y1 = Y(to[off + 2 * i + 1]);
      const len = Math.hypot(x1 - x0, y1 - y0);
      if (len < 1) continue;
      const ux = (x1 - x0) / len, uy = (y1 - y0) / len, hd = Math.min(6, len / 2);
      ctx.strokeStyle = COLORS[smp.label[i] % COLORS.length]; ctx.globalAlpha = 0.55;
      ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1);
      ctx.moveTo(x1, y1); ctx.lineTo(x1 - hd * (ux - 0.5 * uy), y1 - hd * (uy + 0.5 * ux));
      ctx.moveTo(x1, y1); ctx.lineTo(x1 - hd * (ux + 0.5 * uy), y1 - hd * (uy - 0.5 * ux));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }
  function drawRing(ctx, X, Y, xy, off) {
    if (state.hover < 0) return;
    const x = X(xy[off + 2 * state.hover]), y = Y(xy[off + 2 * state.hover + 1]);
    ctx.lineWidth = 2.5; ctx.strokeStyle = "#000";
    ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
  }

  // The panels: raw data (its own axes), then every stage of the code (one shared view).
  const grid = document.getElementById("panels");
  const panels = [];
  const codeView = View(D.box[0], D.box[1]);
  const regions = {};
  for (const name in D.regions) { const img = new Image(); img.src = D.regions[name]; img.onload = () => redraw(); regions[name] = img; }
  function scatterPanel(title, view, axes, s) {
    const chart = new Chart(grid, {
      title: title, view: view, aspect: 1, xlabel: axes[0], ylabel: axes[1],
      draw: (ctx, X, Y) => {
        const f = s.fixed ? 0 : frameOf(s), off = f * N * 2;
        const img = regions[s.name];
        if (img && img.complete && f === s.T - 1 && s.phase === "finetune") {
          ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
          ctx.drawImage(img, X(D.box[0][0]), Y(D.box[1][1]), X(D.box[0][1]) - X(D.box[0][0]), Y(D.box[1][0]) - Y(D.box[1][1]));
        }
        const arrows = state.moved && preStage && s.from_pretrained;
        drawSamples(ctx, X, Y, s.xy, off, arrows ? 0.35 : 1);
        if (arrows) drawArrows(ctx, X, Y, preStage.xy.subarray((preStage.T - 1) * N * 2), s.xy, off);
        state.paths.forEach(i => drawPath(ctx, X, Y, s, i, f));
        drawRing(ctx, X, Y, s.xy, off);
      },
      hover: (c, p, ev) => hoverAt(c, s, p, ev),
      leave: () => { state.hover = -1; tip.style.display = "none"; redraw(); },
      click: (c, p) => { const i = nearest(c, s, p); if (i >= 0) { state.paths.has(i) ? state.paths.delete(i) : state.paths.add(i); redraw(); } },
      select: (c, a, b) => {
        const off = (s.fixed ? 0 : frameOf(s)) * N * 2, sel = new Set();
        const [xa, xb] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])], [ya, yb] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])];
        for (let i = 0; i < N; i++) {
          const x = s.xy[off + 2 * i], y = s.xy[off + 2 * i + 1];
          if (x >= xa && x <= xb && y >= ya && y <= yb) sel.add(i);
        }
        state.selected = sel.size ? sel : null; redraw();
      },
    });
    chart.stage = s;
    panels.push(chart);
    return chart;
  }
  function nearest(c, s, p) {
    const X = c.fn("x"), Y = c.fn("y"), off = (s.fixed ? 0 : frameOf(s)) * N * 2;
    let best = -1, bd = 64;
    for (let i = 0; i < N; i++) {
      const d = (X(s.xy[off + 2 * i]) - p[0]) ** 2 + (Y(s.xy[off + 2 * i + 1]) - p[1]) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  function hoverAt(c, s, p, ev) {
    const i = nearest(c, s, p);
    if (i !== state.hover) { state.hover = i; redraw(); }
    if (i < 0) { tip.style.display = "none"; return; }
    const split = smp.train[i] ? (smp.labelled[i] ? "training, labelled" : "training, unlabelled") : "held out";
    const feats = D.feature_names.map((f, j) => f + " = " + smp.features[i][j]).join("\n");
    const more = D.more_features > 0 ? "\n… and " + D.more_features + " more" : "";
    tip.textContent = "sample " + smp.index[i] + "\nclass: " + D.classes[smp.label[i]] + "\nsplit: " + split + "\n" + feats + more;
    tip.style.display = "block";
    const x = Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 4);
    tip.style.left = Math.max(0, x) + "px"; tip.style.top = (ev.clientY + 12) + "px";
  }
  if (D.raw) {
    const raw = {name: "raw", fixed: true, T: 1, xy: decode(D.raw.frames, D.raw.box), phase: "raw"};
    scatterPanel("Raw data: the two most variable features", View(D.raw.box[0], D.raw.box[1]), D.raw.axes, raw);
  }
  stages.forEach(s => {  // each stage's own frame, for "shared axes" off
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < s.xy.length; i += 2) {
      x0 = Math.min(x0, s.xy[i]); x1 = Math.max(x1, s.xy[i]);
      y0 = Math.min(y0, s.xy[i + 1]); y1 = Math.max(y1, s.xy[i + 1]);
    }
    const px = Math.max(x1 - x0, 1e-6) * 0.05, py = Math.max(y1 - y0, 1e-6) * 0.05;
    s.ownView = View([x0 - px, x1 + px], [y0 - py, y1 + py]);
  });
  function shareAxes(on) {
    panels.forEach(p => {
      if (p.stage.fixed) return;
      p.view.charts.splice(p.view.charts.indexOf(p), 1);
      p.view = on ? codeView : p.stage.ownView;
      p.view.charts.push(p);
    });
    redraw();
  }
  stages.forEach(s => scatterPanel(s.phase === "pretrain" ? "Pretrained autoencoder" : (pre ? "Fine-tuned: " : "Trained: ") + s.name, codeView, D.axes, s));

  // Curves over training: losses, CKA to the pretrained code, per-layer CKA.
  const curves = document.getElementById("curves");
  const field = document.getElementById("field");
  D.history.fields.forEach((f, k) => { const o = node("option", "", field); o.value = k; o.textContent = f.replace("_", " "); });
  function seriesView(series, xlog, ylog, yrange) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    series.forEach(s => s.xs.forEach((x, j) => {
      const y = s.ys[j];
      if (y === null || (ylog && y <= 0) || (xlog && x <= 0)) return;
      const u = xlog ? Math.log10(x) : x, v = ylog ? Math.log10(y) : y;
      x0 = Math.min(x0, u); x1 = Math.max(x1, u); y0 = Math.min(y0, v); y1 = Math.max(y1, v);
    }));
    if (yrange) [y0, y1] = yrange;
    if (!(x1 > x0)) x1 = x0 + 1;
    if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
    const py = (y1 - y0) * 0.05;
    return View([x0, x1], [y0 - py, y1 + py]);
  }
  function lineChart(host, title, xlabel, ylabel, series, o) {
    const view = seriesView(series, o.xlog, o.ylog, o.yrange);
    const chart = new Chart(host, {
      title: title, xlabel: xlabel, ylabel: ylabel, xlog: o.xlog, ylog: o.ylog, aspect: 0.6, view: view,
      legend: series.map(s => [s.name, s.color]),
      draw: (ctx, X, Y) => {
        series.forEach(s => {
          ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = 1.6; ctx.beginPath();
          let on = false;
          s.xs.forEach((x, j) => {
            const y = s.ys[j];
            if (y === null || (o.ylog && y <= 0) || (o.xlog && x <= 0)) { on = false; return; }
            if (on) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
            on = true;
            if (o.dots) ctx.fillRect(X(x) - 2.5, Y(y) - 2.5, 5, 5);
          });
          ctx.stroke();
        });
        const at = o.clock && o.clock();
        if (at !== undefined && at !== null) {
          ctx.strokeStyle = "#888"; ctx.setLineDash([3, 3]); ctx.beginPath();
          ctx.moveTo(X(at), 0); ctx.lineTo(X(at), 2000); ctx.stroke(); ctx.setLineDash([]);
        }
      },
      hover: (c, p, ev) => {
        const X = c.fn("x"), Y = c.fn("y");
        let best = null, bd = 144;
        series.forEach(s => s.xs.forEach((x, j) => {
          const y = s.ys[j];
          if (y === null || (o.ylog && y <= 0) || (o.xlog && x <= 0)) return;
          const d = (X(x) - p[0]) ** 2 + (Y(y) - p[1]) ** 2;
          if (d < bd) { bd = d; best = [s.name, o.xname ? o.xname(x) : xlabel + " " + x, y]; }
        }));
        if (!best) { tip.style.display = "none"; return; }
        tip.textContent = best[0] + "\n" + best[1] + "\n" + ylabel + " = " + best[2];
        tip.style.display = "block";
        tip.style.left = Math.max(0, Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 4)) + "px";
        tip.style.top = (ev.clientY + 12) + "px";
      },
      leave: () => { tip.style.display = "none"; },
    });
    return chart;
  }
  const color = k => COLORS[k % COLORS.length];
  const stepNow = phase => {
    if (phase === "pretrain") return pre && state.clock < TP ? pre.steps[state.clock] : (pre ? pre.steps[TP - 1] : null);
    const s = stages.find(t => t.phase === "finetune");
    return s && state.clock >= TP ? s.steps[Math.min(state.clock - TP, s.T - 1)] : null;
  };
  let curveCharts = [];
  function buildCurves() {
    curveCharts.forEach(c => { charts.splice(charts.indexOf(c), 1); });
    while (curves.firstChild) curves.removeChild(curves.firstChild);
    const k = +field.value || 0, xlog = document.getElementById("xlog").checked, ylog = document.getElementById("ylog").checked;
    const fname = D.history.fields[k] || "loss";
    curveCharts = [];
    const H = D.history.stages, names = D.stages.map(s => s.name);
    const series = phase => names.map((n, j) => [n, j]).filter(([n]) => H[n] && (D.stages.find(s => s.name === n).phase === phase))
      .map(([n, j]) => ({name: n, color: color(j), xs: H[n].steps, ys: H[n].values[k]}))
      .filter(s => s.ys.some(v => v !== null && v !== 0));
    const fine = series("finetune"), pretr = series("pretrain");
    if (pretr.length) curveCharts.push(lineChart(curves, "Pretraining: " + fname.replace("_", " "), "pretraining step", fname.replace("_", " "), pretr, {xlog: xlog, ylog: ylog, clock: () => stepNow("pretrain")}));
    if (fine.length) curveCharts.push(lineChart(curves, "Fine-tuning: " + fname.replace("_", " "), "fine-tuning step", fname.replace("_", " "), fine, {xlog: xlog, ylog: ylog, clock: () => stepNow("finetune")}));
    if (D.cka.stages) {
      const cs = names.map((n, j) => [n, j]).filter(([n]) => D.cka.stages[n]).map(([n, j]) => ({name: n, color: color(j), xs: D.cka.steps, ys: D.cka.stages[n]}));
      curveCharts.push(lineChart(curves, "CKA to the pretrained code", "fine-tuning step", "linear CKA", cs, {xlog: false, ylog: false, yrange: [0, 1], clock: () => stepNow("finetune")}));
    }
    if (D.cka.layers && Object.keys(D.cka.layers).length) {
      const ls = names.map((n, j) => [n, j]).filter(([n]) => D.cka.layers[n]).map(([n, j]) => ({name: n, color: color(j), xs: D.cka.layers[n].map((_, i) => i + 1), ys: D.cka.layers[n]}));
      const depth = ls[0].xs.length;
      curveCharts.push(lineChart(curves, "CKA to the pretrained code, layer by layer (end of training)", "encoder layer (" + depth + " = the code)", "linear CKA", ls, {dots: true, yrange: [0, 1], xname: x => "layer " + x}));
    }
    curveCharts.forEach(c => { c.size(); c.draw(); });
  }

  // Controls: the one clock, play, moved arrows, drag mode, zoom buttons.
  const clock = document.getElementById("clock"), stepText = document.getElementById("step");
  clock.max = Math.max(0, TP + TF - 1);
  clock.value = clock.max; state.clock = +clock.value;
  function redraw() {
    const inPre = state.clock < TP;
    const step = inPre ? "pretraining step " + pre.steps[state.clock] + " of " + pre.steps[TP - 1]
                       : "fine-tuning step " + stepNow("finetune") + " of " + (stages.find(s => s.phase === "finetune") || {steps: [0]}).steps.slice(-1)[0];
    stepText.textContent = step;
    panels.forEach(p => {
      const s = p.stage;
      p.status.textContent = s.fixed ? "" : s.phase === "finetune" && inPre ? "waits for pretraining"
        : "step " + s.steps[frameOf(s)] + (state.moved && s.phase === "finetune" && !s.from_pretrained ? " · from random weights: no arrows" : "");
      p.draw();
    });
    curveCharts.forEach(c => c.draw());
  }
  clock.addEventListener("input", () => { state.clock = +clock.value; redraw(); });
  let timer = null;
  const play = document.getElementById("play");
  play.addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
    if (state.clock >= +clock.max) state.clock = 0;
    play.textContent = "pause";
    timer = setInterval(() => {
      if (state.clock >= +clock.max) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
      state.clock += 1; clock.value = state.clock; redraw();
    }, 150);
  });
  document.getElementById("moved").addEventListener("change", ev => { state.moved = ev.target.checked; redraw(); });
  if (!preStage) document.getElementById("moved").disabled = true;
  document.getElementById("shared").addEventListener("change", ev => shareAxes(ev.target.checked));
  document.getElementById("drag").addEventListener("change", ev => { state.drag = ev.target.value; });
  const zoomAll = k => new Set(panels.map(p => p.view)).forEach(v => v.charts[0].zoom(k));
  document.getElementById("zoomin").addEventListener("click", () => zoomAll(0.8));
  document.getElementById("zoomout").addEventListener("click", () => zoomAll(1.25));
  document.getElementById("reset").addEventListener("click", () => { charts.forEach(c => c.reset()); state.selected = null; state.paths.clear(); redraw(); });
  [field, document.getElementById("xlog"), document.getElementById("ylog")].forEach(e => e.addEventListener("change", buildCurves));

  const legend = document.getElementById("legend");
  D.classes.forEach((name, c) => {
    const span = node("span", "", legend);
    node("i", "", span).style.background = COLORS[c % COLORS.length];
    span.appendChild(document.createTextNode(name));
  });

  function layout() { panels.forEach(p => p.size()); curveCharts.forEach(c => c.size()); redraw(); }
  buildCurves();
  layout();
  let pending = null;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(layout, 100); });
  // For tests and the curious: the charts, and where sample i sits in panel p (client pixels).
  window.aelabReport = {
    panels: panels, charts: charts, state: state, redraw: redraw,
    where: (p, i) => {
      const c = panels[p], s = c.stage, off = (s.fixed ? 0 : frameOf(s)) * N * 2, r = c.canvas.getBoundingClientRect();
      return [r.left + c.fn("x")(s.xy[off + 2 * i]), r.top + c.fn("y")(s.xy[off + 2 * i + 1])];
    },
  };
})();
