(function () {
  "use strict";
  // Every string from the data is written with textContent: names stay text.
  const D = JSON.parse(document.getElementById("data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                   "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39"];
  const tip = document.getElementById("tip");
  const fmt = (v, signed) => v === null || v === undefined ? "" :
    (signed && v >= 0 ? "+" : "") + v.toFixed(3);
  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function showTip(text, x, y) {
    tip.textContent = text;
    tip.style.display = "block";
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(4, Math.min(x + 14, window.innerWidth - w - 4)) + "px";
    tip.style.top = Math.max(4, Math.min(y + 14, window.innerHeight - h - 4)) + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  // ---- the table: sort by any column, filter by words and kind -------------------------
  const T = D.table, thead = document.querySelector("#summary thead"),
        tbody = document.querySelector("#summary tbody");
  const filterBox = document.getElementById("filter"), kindBox = document.getElementById("kind");
  const kindCol = T.columns.findIndex(c => c.key === "kind");
  let sortCol = -1, sortDir = 1;
  const head = document.createElement("tr");
  T.columns.forEach((c, j) => {
    const th = document.createElement("th");
    th.textContent = c.header;
    th.className = (c.type === "text" ? "text " : "") + "col-" + c.key;
    th.tabIndex = 0;
    th.addEventListener("click", () => sortBy(j));
    th.addEventListener("keydown", ev => { if (ev.key === "Enter") sortBy(j); });
    head.appendChild(th);
  });
  thead.appendChild(head);
  const rows = T.rows.map(r => {
    const tr = document.createElement("tr");
    if (r.cells[kindCol] === "baseline") tr.className = "baseline";
    const words = [];
    r.cells.forEach((v, j) => {
      const c = T.columns[j], td = document.createElement("td");
      let text;
      if (c.type === "text") text = v;
      else if (c.type === "interval") text = v[0] === null ? "" : fmt(v[0], c.signed) + (c.signed ? " to " : "–") + fmt(v[1], c.signed);
      else text = c.key === "seeds" || c.key === "diverged" ? (v === null ? "" : String(v)) : fmt(v, c.signed);
      td.textContent = text;
      td.className = (c.type === "text" ? "text " : "") + "col-" + c.key;
      if (c.key === "seeds" && r.few) {
        td.classList.add("few");
        td.title = "fewer than " + D.few + " seeds: a wide, uncertain interval";
      }
      tr.appendChild(td);
      words.push(text.toLowerCase());
    });
    return {tr: tr, cells: r.cells, text: words.join(" "), kind: r.cells[kindCol], point: r.point};
  });
  const count = document.getElementById("count");
  function key(v, type) {
    if (type === "interval") return v[0] === null ? null : v[0];
    if (type === "text") return v;
    return v;
  }
  function sortBy(j) {
    sortDir = sortCol === j ? -sortDir : (T.columns[j].type === "text" ? 1 : -1);
    sortCol = j;
    const type = T.columns[j].type;
    rows.sort((a, b) => {
      const x = key(a.cells[j], type), y = key(b.cells[j], type);
      if (x === null || x === "") return 1;  // missing values last, either way
      if (y === null || y === "") return -1;
      if (type === "text") {
        const nx = Number(x), ny = Number(y);
        if (!isNaN(nx) && !isNaN(ny)) return sortDir * (nx - ny);
        return sortDir * String(x).localeCompare(String(y));
      }
      return sortDir * (x - y);
    });
    Array.from(head.children).forEach((th, i) => {
      if (i === j) th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    render();
  }
  function render() {
    const words = filterBox.value.toLowerCase().split(/\s+/).filter(Boolean);
    const kind = kindBox.value;
    let shown = 0;
    tbody.textContent = "";
    for (const r of rows) {
      const ok = (!kind || r.kind === kind) && words.every(w => r.text.includes(w));
      if (ok) { tbody.appendChild(r.tr); shown++; }
    }
    count.textContent = "showing " + shown + " of " + rows.length + " rows";
  }
  filterBox.addEventListener("input", render);
  kindBox.addEventListener("change", render);
  render();

  // ---- the charts: axes, ticks, bands, hover, legend toggles, zoom and pan -------------
  function niceTicks(lo, hi, n) {
    const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(s => s * mag).find(s => span / s <= n) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
    return out;
  }
  // spec: {svg, legend, xTicks: [[position, label]], xTitle, yTitle, lines: [{name, color,
  // dashed, points: [{x, y: [mean, low, high], tip}]}]}; positions are numbers on the x axis.
  function Chart(svg, legend) {
    // The drawing is as many units wide as the box is pixels (320 to 640): text stays
    // readable on a phone and the plot uses a desktop's width.
    const L = 58, R = 14, Tp = 12, B = 50;
    let W = 560, H = 380;
    const self = {spec: null, hidden: new Set(), view: null};
    function size() {
      const w = svg.parentNode.getBoundingClientRect().width || 560;
      W = Math.round(Math.max(320, Math.min(640, w)));
      H = Math.round(Math.max(300, Math.min(400, W * 0.68)));
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    }
    function full() {
      const s = self.spec, xs = [], ys = [];
      s.lines.forEach(l => l.points.forEach(p => {
        xs.push(p.x);
        p.y.forEach(v => { if (v !== null) ys.push(v); });
      }));
      s.xTicks.forEach(t => xs.push(t[0]));
      if (!xs.length) return {x0: 0, x1: 1, y0: 0, y1: 1};
      let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      if (!ys.length) { y0 = 0; y1 = 1; }
      const px = (x1 - x0) * 0.06 || 0.5, py = (y1 - y0) * 0.08 || 0.05;
      return {x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py};
    }
    const sx = v => L + (v - self.view.x0) / (self.view.x1 - self.view.x0) * (W - L - R);
    const sy = v => H - B - (v - self.view.y0) / (self.view.y1 - self.view.y0) * (H - Tp - B);
    let marks = [];
    function draw() {
      const s = self.spec, v = self.view;
      svg.textContent = "";
      const clipId = svg.id + "-clip";
      const clip = el("clipPath", {id: clipId}, el("defs", {}, svg));
      el("rect", {x: L, y: Tp, width: W - L - R, height: H - Tp - B}, clip);
      for (const t of niceTicks(v.y0, v.y1, 6)) {
        el("line", {x1: L, x2: W - R, y1: sy(t), y2: sy(t), "class": "grid"}, svg);
        const label = el("text", {x: L - 6, y: sy(t) + 4, "text-anchor": "end"}, svg);
        label.textContent = String(+t.toFixed(6));
      }
      for (const [x, name] of s.xTicks) {
        if (x < v.x0 || x > v.x1) continue;
        el("line", {x1: sx(x), x2: sx(x), y1: Tp, y2: H - B, "class": "grid"}, svg);
        el("line", {x1: sx(x), x2: sx(x), y1: H - B, y2: H - B + 5, "class": "axis"}, svg);
        const label = el("text", {x: sx(x), y: H - B + 18, "text-anchor": "middle"}, svg);
        label.textContent = name;
      }
      el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}, svg);
      el("line", {x1: L, x2: L, y1: Tp, y2: H - B, "class": "axis"}, svg);
      const xt = el("text", {x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle"}, svg);
      xt.textContent = s.xTitle;
      const yt = el("text", {x: 14, y: (Tp + H - B) / 2, "text-anchor": "middle",
                             transform: "rotate(-90 14 " + (Tp + H - B) / 2 + ")"}, svg);
      yt.textContent = s.yTitle;
      const plot = el("g", {"clip-path": "url(#" + clipId + ")", "class": "plot"}, svg);
      marks = [];
      s.lines.forEach((l, i) => {
        if (self.hidden.has(i)) return;
        const pts = l.points.filter(p => p.y[0] !== null);
        const band = pts.filter(p => p.y[1] !== null && p.y[2] !== null);
        if (band.length && !l.dashed) {
          const up = band.map(p => sx(p.x) + "," + sy(p.y[2]));
          const down = band.slice().reverse().map(p => sx(p.x) + "," + sy(p.y[1]));
          el("polygon", {points: up.concat(down).join(" "), fill: l.color, opacity: 0.13}, plot);
        }
        el("polyline", {points: pts.map(p => sx(p.x) + "," + sy(p.y[0])).join(" "), fill: "none",
                        stroke: l.color, "stroke-width": l.dashed ? 1.2 : 2,
                        "stroke-dasharray": l.dashed ? "5 3" : "none", "class": "line"}, plot);
        for (const p of pts) {
          if (p.y[1] !== null && p.y[2] !== null && !l.dashed) {  // the interval, as a whisker
            el("line", {x1: sx(p.x), x2: sx(p.x), y1: sy(p.y[1]), y2: sy(p.y[2]), stroke: l.color,
                        "stroke-width": 1, opacity: 0.6}, plot);
          }
          el("circle", {cx: sx(p.x), cy: sy(p.y[0]), r: 3.5, fill: l.color, "class": "point"}, plot);
          marks.push({x: sx(p.x), y: sy(p.y[0]), text: l.name + "\n" + p.tip});
        }
      });
    }
    function drawLegend() {
      legend.textContent = "";
      self.spec.lines.forEach((l, i) => {
        const b = document.createElement("button");
        const swatch = document.createElement("i");
        swatch.style.background = l.color;
        if (l.dashed) swatch.style.opacity = "0.5";
        b.appendChild(swatch);
        b.appendChild(document.createTextNode(l.name));
        b.className = self.hidden.has(i) ? "off" : "";
        b.setAttribute("aria-pressed", String(!self.hidden.has(i)));
        b.addEventListener("click", () => {
          if (self.hidden.has(i)) self.hidden.delete(i); else self.hidden.add(i);
          drawLegend(); draw();
        });
        legend.appendChild(b);
      });
    }
    function toData(ev) {
      const box = svg.getBoundingClientRect(), k = W / box.width;
      return [(ev.clientX - box.left) * k, (ev.clientY - box.top) * k];
    }
    svg.addEventListener("mousemove", ev => {
      if (drag) return;
      const [x, y] = toData(ev);
      let best = null, dist = 18;
      for (const m of marks) {
        const d = Math.hypot(m.x - x, m.y - y);
        if (d < dist) { dist = d; best = m; }
      }
      if (best) showTip(best.text, ev.clientX, ev.clientY); else hideTip();
    });
    svg.addEventListener("mouseleave", hideTip);
    function zoom(cx, cy, f) {
      const v = self.view;
      const x = v.x0 + (cx - L) / (W - L - R) * (v.x1 - v.x0);
      const y = v.y0 + (H - B - cy) / (H - Tp - B) * (v.y1 - v.y0);
      self.view = {x0: x + (v.x0 - x) * f, x1: x + (v.x1 - x) * f,
                   y0: y + (v.y0 - y) * f, y1: y + (v.y1 - y) * f};
      draw();
    }
    svg.addEventListener("wheel", ev => {
      ev.preventDefault();
      const [x, y] = toData(ev);
      zoom(x, y, ev.deltaY < 0 ? 0.8 : 1.25);
    }, {passive: false});
    // One pointer pans; two (a pinch) zoom around their middle.
    let drag = null;
    const down = new Map();
    function start() {
      const ps = Array.from(down.values());
      drag = {ps: ps, view: self.view};
    }
    svg.addEventListener("pointerdown", ev => {
      down.set(ev.pointerId, toData(ev));
      try { svg.setPointerCapture(ev.pointerId); } catch (e) { /* a pointer already gone */ }
      start();
    });
    svg.addEventListener("pointermove", ev => {
      if (!drag || !down.has(ev.pointerId)) return;
      down.set(ev.pointerId, toData(ev));
      const now = Array.from(down.values()), v = drag.view;
      self.view = v;
      if (now.length >= 2 && drag.ps.length >= 2) {
        const dist = ps => Math.hypot(ps[0][0] - ps[1][0], ps[0][1] - ps[1][1]) || 1;
        zoom((now[0][0] + now[1][0]) / 2, (now[0][1] + now[1][1]) / 2, dist(drag.ps) / dist(now));
        return;
      }
      const dx = (now[0][0] - drag.ps[0][0]) / (W - L - R) * (v.x1 - v.x0);
      const dy = (now[0][1] - drag.ps[0][1]) / (H - Tp - B) * (v.y1 - v.y0);
      self.view = {x0: v.x0 - dx, x1: v.x1 - dx, y0: v.y0 + dy, y1: v.y1 + dy};
      draw();
    });
    const stop = ev => {
      down.delete(ev.pointerId);
      if (down.size) start(); else drag = null;
    };
    svg.addEventListener("pointerup", stop);
    svg.addEventListener("pointercancel", stop);
    svg.addEventListener("dblclick", () => { self.view = full(); draw(); });
    self.show = spec => { self.spec = spec; size(); self.view = full(); drawLegend(); draw(); };
    window.addEventListener("resize", () => { if (self.spec) { size(); draw(); } });
    self.zoom = zoom;
    // A ring around one point (a table row's), or none.
    self.highlight = (name, x) => {
      const old = svg.querySelector(".ring");
      if (old) old.remove();
      const i = self.spec.lines.findIndex(l => l.key === name);
      const p = i < 0 || self.hidden.has(i) ? null :
        self.spec.lines[i].points.find(q => q.x === x && q.y[0] !== null);
      if (p) el("circle", {cx: sx(p.x), cy: sy(p.y[0]), r: 8, fill: "none", stroke: "#000",
                           "stroke-width": 2, "class": "ring"}, svg.querySelector("g.plot"));
    };
    return self;
  }
  const seedsText = n => n === null ? "" : ", " + n + " seeds" + (n < D.few ? " (few: read with care)" : "");
  const intervalText = (y, signed) => fmt(y[0], signed) +
    (y[1] === null ? "" : " (95% CI " + fmt(y[1], signed) + " to " + fmt(y[2], signed) + ")");

  // Accuracy against labels: a category axis of label counts.
  const A = D.accuracy;
  let colour = 0, grey = 0;
  const accLines = A.lines.map(l => ({
    key: l.name,
    name: l.baseline ? l.name + " (scikit-learn)" : l.name,
    color: l.baseline ? ["#555", "#777", "#999", "#aaa", "#666"][grey++ % 5] : PALETTE[colour++ % PALETTE.length],
    dashed: l.baseline,
    points: l.points.map(p => ({x: p.x, y: p.y,
      tip: A.ticks[p.x] + ": held-out accuracy " + intervalText(p.y) + seedsText(p.n)})),
  }));
  const accChart = Chart(document.getElementById("acc-chart"), document.getElementById("acc-legend"));
  accChart.show({xTicks: A.ticks.map((t, i) => [i, t]), xTitle: "labelled training samples",
                 yTitle: "held-out accuracy (mean, 95% CI)", lines: accLines});

  // A measure against λ: a symmetric-log axis when λ spans two decades or more.
  const Lm = D.lambda, measureBox = document.getElementById("measure");
  const pos = Lm.lambdas.filter(v => v > 0), small = pos.length ? Math.min(...pos) : 1;
  const logAxis = Lm.lambdas.length > 2 && pos.length && Math.max(...pos) / small >= 100;
  const lx = v => !logAxis ? v : v <= 0 ? 0 : v < small ? v / small : 1 + Math.log10(v / small);
  for (const m in Lm.measures) {
    const o = document.createElement("option");
    o.value = m; o.textContent = Lm.measures[m];
    measureBox.appendChild(o);
  }
  const lamChart = Chart(document.getElementById("lambda-chart"), document.getElementById("lambda-legend"));
  function showMeasure() {
    const m = measureBox.value;
    const signed = m === "reconstruction_drift";
    lamChart.show({
      xTicks: Lm.lambdas.map(v => [lx(v), String(v)]),
      xTitle: "λ (reconstruction weight" + (logAxis ? ", log scale above " + small : "") + ")",
      yTitle: Lm.measures[m] || "",
      lines: Lm.lines.map((l, i) => ({name: l.name, color: PALETTE[i % PALETTE.length], dashed: false,
        points: l.points.map(p => ({x: lx(p.x), y: p.y[m] || [null, null, null],
          tip: "λ = " + p.x + ": " + intervalText(p.y[m] || [null], signed) + seedsText(p.n)}))})),
    });
  }
  measureBox.addEventListener("change", showMeasure);
  if (Lm.lines.length && measureBox.options.length) showMeasure();
  else document.getElementById("lambda-chart").parentNode.style.display = "none";  // no λ
  // Hovering a row of the table rings its point on the accuracy chart.
  rows.forEach(r => {
    r.tr.addEventListener("mouseenter", () => accChart.highlight(r.point[0], r.point[1]));
    r.tr.addEventListener("mouseleave", () => accChart.highlight(null, null));
  });
  window.aelabCharts = {accuracy: accChart, lambda: lamChart};  // for tests and the console
})();
