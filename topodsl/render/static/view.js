// The interactive view's own logic: which components are shown, and the aggregated edges
// between them. Drawing, layout, hover and selection are vis-network's.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("topology").textContent);
  const nodes = data.nodes, N = nodes.length;
  const children = Array.from({length: N}, () => []);
  nodes.forEach((n, i) => { if (n.parent >= 0) children[n.parent].push(i); });
  const cutDevices = new Set(data.cut.devices);
  let cutShown = new Map();  // shown node -> cut devices inside it
  const expanded = new Set();
  const units = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""]];
  function fmt(v, unit) {
    for (const [s, p] of units) {
      if (Math.abs(v) >= s) { return +(v / s).toPrecision(4) + " " + p + unit; }
    }
    return +v.toPrecision(4) + " " + unit;
  }
  function name(i) { const id = nodes[i].id; return id.slice(id.lastIndexOf(".") + 1); }
  function ancestors(i) { const out = []; for (let p = nodes[i].parent; p >= 0; p = nodes[p].parent) out.push(p); return out; }
  function shown(i) { return ancestors(i).every(a => expanded.has(a)); }
  function rep(i) {  // the shown node standing for component i
    let best = i;
    for (const a of ancestors(i)) { if (!expanded.has(a)) best = a; }
    return best;
  }
  function nodeLabel(i) {
    const k = children[i].length;
    const inner = k ? (expanded.has(i) ? "" : "\n" + k + " parts ▸") : "";
    return name(i) + "\n" + nodes[i].kind + inner;
  }
  function nodeTitle(i) {
    let t = nodes[i].id + "\n" + data.infos[nodes[i].info];
    if (nodes[i].hidden) t += "\n(" + nodes[i].hidden + " parts inside not embedded)";
    if (cutShown.has(i)) {
      const k = cutShown.get(i);
      t += "\nin the limiting cut: " + (k === 1 && cutDevices.has(i) ? "its device limit" : k + " device limits inside");
    }
    return t;
  }
  function nodeItem(i) {
    const [fill, border] = data.kinds[nodes[i].kind] || ["#eeeeee", "#444444"];
    const open = expanded.has(i), cut = cutShown.has(i);
    return {
      id: i, label: nodeLabel(i), title: nodeTitle(i),
      shape: open ? "dot" : "box", size: open ? 8 : undefined,
      color: {background: fill, border: cut ? data.cut.color : border,
              highlight: {background: fill, border: "#000"}},
      borderWidth: cut ? 4 : (children[i].length && !open ? 2 : 1),
      shapeProperties: {borderDashes: false},
      font: {size: 14, multi: false}, margin: 8,
    };
  }
  function visible() {
    const out = [];
    for (let i = 0; i < N; i++) if (shown(i)) out.push(i);
    return out;
  }
  function edgeItems(vis) {
    const isShown = new Set(vis), agg = new Map();
    const repOf = new Map();
    const r = i => { if (!repOf.has(i)) repOf.set(i, rep(i)); return repOf.get(i); };
    for (const [a, b, t, count, lanes, bw, cut] of data.links) {
      let ra = r(a), rb = r(b);
      if (ra === rb) continue;
      if (ra > rb) [ra, rb] = [rb, ra];
      const key = ra + ":" + rb + ":" + t;
      const e = agg.get(key) || {a: ra, b: rb, t: t, count: 0, lanes: 0, bw: 0, cut: 0};
      e.count += count; e.lanes += lanes; e.bw += bw; e.cut += cut;
      agg.set(key, e);
    }
    const out = [];
    for (const e of agg.values()) {
      const type = data.types[e.t];
      let label = type.name + (e.lanes !== 1 ? " ×" + (+e.lanes.toPrecision(4)) : "") + "\n" + fmt(e.bw, "B/s");
      let title = e.count + " link" + (e.count === 1 ? "" : "s") + " of " + type.name +
        " (" + type.info + ")\n" + (+e.lanes.toPrecision(6)) + " lanes, " + fmt(e.bw, "B/s") +
        " per direction in all\n" + nodes[e.a].id + " — " + nodes[e.b].id;
      if (e.cut) { label += "\ncut: " + e.cut + " of " + e.count; title += "\nin the limiting cut: " + e.cut + " of " + e.count + " links"; }
      out.push({id: "l" + e.a + ":" + e.b + ":" + e.t, from: e.a, to: e.b, label: label, title: title,
                color: {color: e.cut ? data.cut.color : type.color}, width: e.cut ? 4 : 1.5,
                font: {size: 11, align: "middle"}, smooth: false});
    }
    for (const i of vis) {
      const p = nodes[i].parent;
      if (p >= 0 && isShown.has(p)) {
        out.push({id: "c" + p + ":" + i, from: p, to: i, dashes: true, color: {color: "#bbbbbb"},
                  width: 1, title: nodes[p].id + " contains " + nodes[i].id, smooth: false});
      }
    }
    out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return out;
  }

  const nodeSet = new vis.DataSet(), edgeSet = new vis.DataSet();
  const container = document.getElementById("graph");
  const network = new vis.Network(container, {nodes: nodeSet, edges: edgeSet}, {
    layout: {randomSeed: 7, improvedLayout: true},
    physics: {solver: "forceAtlas2Based", stabilization: {iterations: 300},
              forceAtlas2Based: {springLength: 120, avoidOverlap: 0.6}},
    interaction: {hover: true, tooltipDelay: 120, navigationButtons: false},
    edges: {font: {strokeWidth: 3}},
  });
  function refresh() {
    const vis = visible();
    cutShown = new Map();
    for (const d of cutDevices) { const r = rep(d); cutShown.set(r, (cutShown.get(r) || 0) + 1); }
    const keepNodes = new Set(vis);
    nodeSet.remove(nodeSet.getIds().filter(id => !keepNodes.has(id)));
    nodeSet.update(vis.map(nodeItem));
    const edges = edgeItems(vis);
    // Many edges: labels only on hover (the title), or they pile up.
    if (edges.length > 80) edges.forEach(e => { e.label = ""; });
    const keepEdges = new Set(edges.map(e => e.id));
    edgeSet.remove(edgeSet.getIds().filter(id => !keepEdges.has(id)));
    edgeSet.update(edges);
    api.ready = false;
    network.stabilize(200);
  }
  function toggle(i) {
    if (!children[i].length) return;
    if (expanded.has(i)) {
      // Collapse this container and everything opened inside it.
      const stack = [i];
      while (stack.length) { const k = stack.pop(); expanded.delete(k); stack.push(...children[k]); }
    } else {
      expanded.add(i);
    }
    refresh();
  }
  // Ready (for scripts and tests) once the layout has settled after each change.
  network.on("stabilizationIterationsDone", () => { api.ready = true; network.fit(); });
  network.on("stabilized", () => { api.ready = true; });
  network.on("click", params => { if (params.nodes.length) toggle(params.nodes[0]); });

  function reveal(i) { for (const a of ancestors(i)) expanded.add(a); }
  const form = document.getElementById("search-form"), box = document.getElementById("search");
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const q = box.value.trim().toLowerCase();
    if (!q) return;
    const found = [];
    for (let i = 0; i < N && found.length < 200; i++) if (nodes[i].id.toLowerCase().includes(q)) found.push(i);
    const exact = found.find(i => nodes[i].id.toLowerCase() === q || name(i).toLowerCase() === q);
    const first = exact !== undefined ? exact : found[0];
    document.getElementById("matches").textContent = found.length
      ? found.length + (found.length === 200 ? "+" : "") + " match" + (found.length === 1 ? "" : "es") + ": " + nodes[first].id
      : "no match";
    if (first === undefined) return;
    reveal(first);
    refresh();
    network.once("stabilizationIterationsDone", () => {
      network.selectNodes([first]);
      network.focus(first, {scale: 1.2});
    });
    api.selected = nodes[first].id;
  });

  document.getElementById("title").textContent = data.title;
  let caption = data.summary;
  if (data.folded_below !== null) caption += "; parts below depth " + data.folded_below + " folded into their containers";
  const cap = document.getElementById("caption");
  cap.textContent = caption;
  if (data.cut.caption) {
    const s = document.createElement("div"); s.className = "cut"; s.textContent = data.cut.caption; cap.appendChild(s);
  }

  // Start collapsed: the top level, or the children of a single top-level container.
  const roots = nodes.map((n, i) => i).filter(i => nodes[i].parent < 0);
  if (data.start.depth !== null) {
    nodes.forEach((n, i) => { if (ancestors(i).length < data.start.depth) expanded.add(i); });
  } else if (roots.length === 1) {
    expanded.add(roots[0]);
  }
  const api = {
    network: network, ready: false, selected: null,
    visibleIds: () => visible().map(i => nodes[i].id),
    expandedIds: () => [...expanded].map(i => nodes[i].id).sort(),
    indexOf: id => nodes.findIndex(n => n.id === id),
    edgeLabels: () => edgeSet.get().map(e => e.label).filter(Boolean),
    edgeTitles: () => edgeSet.get().map(e => e.title),
  };
  window.topodsl = api;
  if (data.start.focus) {
    const f = api.indexOf(data.start.focus);
    if (f >= 0) { reveal(f); api.selected = data.start.focus; network.once("stabilizationIterationsDone", () => network.selectNodes([f])); }
  }
  refresh();
})();
