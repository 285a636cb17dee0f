(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const COLORS = D.colors;
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("scatter");
  const tip = document.getElementById("tip");
  const stageBox = document.getElementById("stage");
  const slider = document.getElementById("frame");
  const stepText = document.getElementById("step");
  const S = 640, M = 30;
  const [[x0, x1], [y0, y1]] = D.box;
  const sx = v => M + (v - x0) / (x1 - x0) * (S - 2 * M);
  const sy = v => S - M - (v - y0) / (y1 - y0) * (S - 2 * M);
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  const regions = el("image", {x: sx(x0), y: sy(y1), width: sx(x1) - sx(x0),
                               height: sy(y0) - sy(y1), preserveAspectRatio: "none"});
  svg.appendChild(regions);
  const xl = el("text", {x: S / 2, y: S - 6, "text-anchor": "middle", "font-size": 12});
  xl.textContent = D.axes[0]; svg.appendChild(xl);
  const yl = el("text", {x: 12, y: S / 2, "font-size": 12,
                         transform: "rotate(-90 12 " + S / 2 + ")", "text-anchor": "middle"});
  yl.textContent = D.axes[1]; svg.appendChild(yl);
  const smp = D.samples;
  const dots = smp.index.map((index, i) => {
    const color = COLORS[smp.label[i] % COLORS.length];
    const train = smp.train[i], labelled = smp.labelled[i];
    const c = el("circle", {
      r: train && !labelled ? 2.5 : 4.5,
      fill: train ? color : "none",
      stroke: color,
      "stroke-width": train ? 0.5 : 1.5,
      opacity: train && !labelled ? 0.45 : 0.9,
      "class": "sample",
    });
    c.addEventListener("mousemove", ev => {
      const split = train ? (labelled ? "training, labelled" : "training, unlabelled")
                          : "held out";
      const feats = D.feature_names.map((f, j) => f + " = " + smp.features[i][j]).join("\n");
      const more = D.more_features > 0 ? "\n… and " + D.more_features + " more" : "";
      tip.textContent = "sample " + index + "\nclass: " + D.classes[smp.label[i]] +
                        "\nsplit: " + split + "\n" + feats + more;
      tip.style.display = "block";
      tip.style.left = (ev.clientX + 12) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
    });
    c.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    svg.appendChild(c);
    return c;
  });
  const legend = document.getElementById("legend");
  D.classes.forEach((name, c) => {
    const span = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = COLORS[c % COLORS.length];
    span.appendChild(dot);
    span.appendChild(document.createTextNode(name));
    legend.appendChild(span);
  });
  D.stages.forEach((s, i) => {
    const o = document.createElement("option");
    o.value = i; o.textContent = s.name; stageBox.appendChild(o);
  });
  function draw() {
    const s = D.stages[+stageBox.value];
    const t = Math.min(+slider.value, s.frames.length - 1);
    const xy = s.frames[t];
    dots.forEach((d, i) => { d.setAttribute("cx", sx(xy[i][0])); d.setAttribute("cy", sy(xy[i][1])); });
    const last = t === s.frames.length - 1;
    const img = last && D.regions[s.name];
    if (img) regions.setAttribute("href", img); else regions.removeAttribute("href");
    stepText.textContent = (s.name === "pretrained" ? "pretraining" : "fine-tuning") +
                           " step " + s.steps[t] + " of " + s.steps[s.steps.length - 1];
  }
  stageBox.addEventListener("change", () => {
    slider.max = D.stages[+stageBox.value].frames.length - 1;
    slider.value = slider.max; draw();
  });
  slider.addEventListener("input", draw);
  slider.max = D.stages[0].frames.length - 1;
  slider.value = slider.max;
  draw();

  const L = document.getElementById("losses");
  const names = Object.keys(D.history);
  const W = 900, H = 260, P = 40;
  let lo = Infinity, hi = -Infinity;
  names.forEach(n => D.history[n].forEach(v => {
    if (v !== null && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }));
  if (names.length && lo < hi) {
    const ly = v => H - P - (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) * (H - 2 * P);
    names.forEach((n, k) => {
      const ys = D.history[n];
      const pts = ys.map((v, i) => v === null || v <= 0 ? null :
        (P + i / Math.max(ys.length - 1, 1) * (W - 3 * P)) + "," + ly(v)).filter(p => p);
      const color = COLORS[k % COLORS.length];
      L.appendChild(el("polyline", {points: pts.join(" "), fill: "none", stroke: color}));
      const label = el("text", {x: W - 2 * P + 4, y: P + 14 * k, "font-size": 11, fill: color});
      label.textContent = n; L.appendChild(label);
    });
    const cap = el("text", {x: P, y: 14, "font-size": 11});
    cap.textContent = "loss per step (log scale): " + lo.toPrecision(3) + " to " + hi.toPrecision(3);
    L.appendChild(cap);
  }
})();
