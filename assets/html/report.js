
// layerscope HTML report: builds the page from the JSON block. Image text is only ever set with textContent or
// title (never as markup), so a file name cannot inject anything.
(function () {
  'use strict';
  var errorBox = document.getElementById('render-error');
  window.addEventListener('error', function (e) {
    errorBox.hidden = false;
    errorBox.textContent = 'The report could not be drawn completely: ' + e.message;
  });

  var data = JSON.parse(document.getElementById('layerscope-data').textContent);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function size(bytes) {
    if (bytes < 1000) { return bytes + ' B'; }
    var units = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
    var v = bytes, i = -1;
    do { v /= 1000; i++; } while (v >= 1000 && i < units.length - 1);
    return v.toFixed(2) + ' ' + units[i];
  }
  function percent(r) { return (r * 100).toFixed(1) + ' %'; }
  function layerColor(layer) {
    if (layer < 0) { return '#ccc'; }
    return 'hsl(' + ((layer * 137.508) % 360).toFixed(1) + ', 62%, ' + (layer % 2 ? 62 : 72) + '%)';
  }
  function row(tbody, cells) {
    var tr = el('tr');
    cells.forEach(function (c) {
      var td = el('td', c[1] || '', c[0]);
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  }

  // ---- header -------------------------------------------------------------------------------------------------
  var img = data.image;
  document.title = 'layerscope: ' + img.name;
  document.getElementById('image-name').textContent = img.name;
  document.getElementById('image-source').textContent =
    img.source + ' · ' + img.platform + ' · ' + img.config_digest;
  var numbers = document.getElementById('numbers');
  [
    [size(img.size_bytes), 'size: regular-file bytes of ' + data.layers.length + ' layers'],
    [size(img.wasted_bytes), 'wasted: file versions not in the final image'],
    [percent(img.efficiency), 'efficiency: 1 - wasted / size'],
    [percent(img.user_wasted_ratio), 'user waste: wasted / layers above the base (' + img.base_layers + ')']
  ].forEach(function (n) {
    var box = el('div', 'number');
    box.appendChild(el('b', '', n[0]));
    box.appendChild(el('span', '', n[1]));
    numbers.appendChild(box);
  });
  if (img.overflowed.length) {
    numbers.appendChild(el('div', 'number error', 'Not computable (over 2^64 bytes): ' + img.overflowed.join(', ')));
  }

  // ---- the tree -----------------------------------------------------------------------------------------------
  // nodes: [parent, name, kind, bytes, layer, entries, split], pre-order (see src/report/html.rs).
  var nodes = data.nodes.map(function (n) {
    return { parent: n[0], name: n[1], kind: n[2], bytes: n[3], layer: n[4], entries: n[5], split: n[6],
      children: [], byLayer: null, main: n[4] };
  });
  for (var i = 1; i < nodes.length; i++) { nodes[nodes[i].parent].children.push(i); }
  // Bytes per layer below each directory (children come after their parent: sum in reverse).
  for (var j = nodes.length - 1; j >= 0; j--) {
    var n = nodes[j];
    if (!n.byLayer) { n.byLayer = {}; }
    if (n.kind === 'a') {
      n.split.forEach(function (s) { n.byLayer[s[0]] = (n.byLayer[s[0]] || 0) + s[1]; });
    } else if (n.kind !== 'd') {
      n.byLayer[n.layer] = (n.byLayer[n.layer] || 0) + n.bytes;
    }
    if (j > 0) {
      var p = nodes[n.parent];
      if (!p.byLayer) { p.byLayer = {}; }
      for (var l in n.byLayer) { p.byLayer[l] = (p.byLayer[l] || 0) + n.byLayer[l]; }
    }
    if (n.kind === 'd') {
      var best = -1, most = -1;
      for (var k in n.byLayer) { if (n.byLayer[k] > most) { most = n.byLayer[k]; best = Number(k); } }
      n.main = best;
    }
  }
  function pathOf(i) {
    var parts = [];
    while (i > 0) { parts.push(nodes[i].name); i = nodes[i].parent; }
    return '/' + parts.reverse().join('/');
  }

  // Squarified treemap (Bruls, Huizing, van Wijk): rows laid along the shorter side, keeping aspect ratios near 1.
  function squarify(items, x, y, w, h) {
    var total = items.reduce(function (s, it) { return s + it.value; }, 0);
    var out = [];
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = (w * h) / total;
    var rest = items.map(function (it) { return { item: it, area: it.value * scale }; });
    function worst(row, side) {
      var s = 0, max = 0, min = Infinity;
      row.forEach(function (r) { s += r.area; max = Math.max(max, r.area); min = Math.min(min, r.area); });
      return Math.max((side * side * max) / (s * s), (s * s) / (side * side * min));
    }
    var rowItems = [];
    while (rest.length) {
      var side = Math.min(w, h);
      var next = rest[0];
      if (rowItems.length === 0 || worst(rowItems.concat([next]), side) <= worst(rowItems, side)) {
        rowItems.push(next);
        rest.shift();
        continue;
      }
      var placed = layoutRow(rowItems, x, y, w, h);
      out = out.concat(placed.rects);
      x = placed.x; y = placed.y; w = placed.w; h = placed.h;
      rowItems = [];
    }
    if (rowItems.length) { out = out.concat(layoutRow(rowItems, x, y, w, h).rects); }
    return out;
  }
  function layoutRow(row, x, y, w, h) {
    var s = row.reduce(function (a, r) { return a + r.area; }, 0);
    var rects = [];
    if (w >= h) {
      var rw = s / h, cy = y;
      row.forEach(function (r) {
        var rh = r.area / rw;
        rects.push({ item: r.item, x: x, y: cy, w: rw, h: rh });
        cy += rh;
      });
      return { rects: rects, x: x + rw, y: y, w: w - rw, h: h };
    }
    var rh2 = s / w, cx = x;
    row.forEach(function (r) {
      var cw = r.area / rh2;
      rects.push({ item: r.item, x: cx, y: y, w: cw, h: rh2 });
      cx += cw;
    });
    return { rects: rects, x: x, y: y + rh2, w: w, h: h - rh2 };
  }

  var map = document.getElementById('treemap');
  var crumbs = document.getElementById('breadcrumb');
  var current = 0;
  var MAX_RECTS = 3000;
  var drawn = 0;

  function describe(i) {
    var n = nodes[i];
    var what = n.kind === 'a' ? n.name + ' in ' + pathOf(n.parent) : pathOf(i);
    return what + '\n' + size(n.bytes) + (n.layer >= 0 ? ' · layer ' + (n.kind === 'd' ? n.main : n.layer) : '');
  }
  function drawChildren(parentEl, i, x, y, w, h, depth) {
    var items = nodes[i].children
      .filter(function (c) { return nodes[c].bytes > 0; })
      .map(function (c) { return { id: c, value: nodes[c].bytes }; });
    squarify(items, x, y, w, h).forEach(function (r) {
      if (drawn >= MAX_RECTS || r.w < 2 || r.h < 2) { return; }
      drawn++;
      var c = r.item.id, n = nodes[c];
      var box = el('div', 'tm-rect' + (n.kind === 'd' ? ' tm-dir' : '') + (n.kind === 'a' ? ' tm-folded' : ''));
      box.style.left = r.x + 'px';
      box.style.top = r.y + 'px';
      box.style.width = r.w + 'px';
      box.style.height = r.h + 'px';
      box.style.background = layerColor(n.kind === 'd' ? n.main : n.layer);
      box.title = describe(c);
      box.dataset.node = String(c);
      if (r.w > 40 && r.h > 14) { box.appendChild(el('span', 'tm-label', n.name)); }
      if (n.kind === 'd') {
        box.addEventListener('click', function (e) { e.stopPropagation(); zoom(c); });
        // Two levels of nesting inside a directory that has room for them, below its label.
        if (depth < 2 && r.w > 60 && r.h > 50) {
          drawChildren(box, c, 2, 16, r.w - 6, r.h - 20, depth + 1);
        }
      }
      parentEl.appendChild(box);
    });
  }
  // A directory holding nothing but one directory (usr -> lib) shows that one: the map would be a single box.
  function landing(i) {
    while (nodes[i].children.length === 1 && nodes[nodes[i].children[0]].kind === 'd') { i = nodes[i].children[0]; }
    return i;
  }
  function zoom(i) {
    i = landing(i);
    current = i;
    while (map.firstChild) { map.removeChild(map.firstChild); }
    while (crumbs.firstChild) { crumbs.removeChild(crumbs.firstChild); }
    var chain = [];
    for (var a = i; ; a = nodes[a].parent) { chain.unshift(a); if (a === 0) { break; } }
    chain.forEach(function (a, idx) {
      if (idx > 1) { crumbs.appendChild(el('span', 'sub', '/')); }
      var label = a === 0 ? '/' : nodes[a].name;
      if (a === i) {
        crumbs.appendChild(el('span', 'current', label + '  (' + size(nodes[a].bytes) + ')'));
      } else if (landing(a) === i) {
        crumbs.appendChild(el('span', 'crumb-same', label));
      } else {
        var b = el('button', 'crumb', label);
        b.addEventListener('click', function () { zoom(a); });
        crumbs.appendChild(b);
      }
    });
    drawn = 0;
    var w = map.clientWidth, h = map.clientHeight;
    if (nodes.length <= 1 || nodes[i].bytes === 0) {
      map.appendChild(el('p', 'hint', 'No file bytes here.'));
      return;
    }
    drawChildren(map, i, 0, 0, w, h, 0);
  }
  map.addEventListener('click', function () { /* a click on the background stays put */ });
  window.addEventListener('resize', function () { zoom(current); });

  // Legend: layers that wrote bytes in the final filesystem.
  var legend = document.getElementById('legend');
  data.layers.forEach(function (layer) {
    var item = el('span');
    var sw = el('span', 'swatch');
    sw.style.background = layerColor(layer.index);
    item.appendChild(sw);
    item.appendChild(document.createTextNode(
      layer.index + ': ' + (layer.instruction.length > 50 ? layer.instruction.slice(0, 49) + '…' : layer.instruction)));
    item.title = layer.instruction;
    legend.appendChild(item);
  });
  if (data.folded) {
    var note = document.getElementById('folded-note');
    note.hidden = false;
    note.textContent = 'This image has many entries: files and directories holding a small share of its bytes are ' +
      'shown together, one box per directory coloured by the layer that wrote most of them (striped rectangles, ' +
      '"smaller entries" in the file tree).';
  }
  zoom(0);

  // ---- layers -------------------------------------------------------------------------------------------------
  var layersBody = document.querySelector('#layers tbody');
  data.layers.forEach(function (layer) {
    var tr = el('tr');
    var sw = el('td', 'num');
    var swatch = el('span', 'swatch');
    swatch.style.background = layerColor(layer.index);
    sw.appendChild(swatch);
    sw.appendChild(document.createTextNode(String(layer.index)));
    tr.appendChild(sw);
    [size(layer.size_bytes), layer.added, layer.modified, layer.deleted].forEach(function (v) {
      tr.appendChild(el('td', 'num', v));
    });
    var ins = el('td', 'code', layer.instruction);
    layer.instructions.forEach(function (extra) {
      if (extra !== layer.instruction) { ins.appendChild(el('div', 'sub', extra)); }
    });
    tr.appendChild(ins);
    layersBody.appendChild(tr);
  });

  // ---- advice -------------------------------------------------------------------------------------------------
  var adviceBox = document.getElementById('advice');
  var reclaim = data.advice.reduce(function (s, a) { return s + a.reclaimable_bytes; }, 0);
  document.getElementById('advice-title').textContent =
    'Advice (' + data.advice.length + ' findings, ' + size(reclaim) + ' reclaimable)';
  if (!data.advice.length) { adviceBox.appendChild(el('p', 'hint', 'Nothing to change.')); }
  data.advice.forEach(function (a) {
    var box = el('div', 'advice');
    var head = el('div', 'head');
    head.appendChild(el('span', 'sev sev-' + a.severity, a.severity));
    head.appendChild(el('span', 'code', a.id));
    if (a.reclaimable_bytes > 0) { head.appendChild(el('b', '', 'saves ' + size(a.reclaimable_bytes))); }
    head.appendChild(el('span', '', a.message));
    box.appendChild(head);
    if (a.layers.length) {
      box.appendChild(el('div', 'sub code', 'layers: ' + a.layers.map(function (l) {
        return l.index + ' ' + l.instruction;
      }).join('; ')));
    }
    a.paths.slice(0, 5).forEach(function (p) {
      box.appendChild(el('div', 'code', size(p.bytes) + '  ' + p.path));
    });
    if (a.path_count > 5) { box.appendChild(el('div', 'sub', '… and ' + (a.path_count - 5) + ' more paths')); }
    box.appendChild(el('div', '', 'Fix: ' + a.fix));
    adviceBox.appendChild(box);
  });

  // ---- waste --------------------------------------------------------------------------------------------------
  document.getElementById('waste-title').textContent =
    'Wasted space (' + size(img.wasted_bytes) + ' in ' + data.waste_count + ' files)';
  var wasteBody = document.querySelector('#waste tbody');
  data.waste.forEach(function (f) {
    row(wasteBody, [[size(f.bytes), 'num'], [f.layers.join(', ')], [f.reason], [f.path, 'code']]);
  });
  if (data.waste_count > data.waste.length) {
    row(wasteBody, [['… and ' + (data.waste_count - data.waste.length) + ' more (--json lists all)', 'sub']]);
  }

  // ---- secrets ------------------------------------------------------------------------------------------------
  var secretsTitle = document.getElementById('secrets-title');
  var secretsBody = document.querySelector('#secrets tbody');
  if (data.secrets === null) {
    secretsTitle.textContent = 'Secrets (not scanned)';
  } else {
    secretsTitle.textContent = 'Secrets (' + data.secret_count + ' found)';
    data.secrets.forEach(function (f) {
      var where = f.path ? f.path + (f.line ? ':' + f.line : '') : f.location;
      var status = f.status + (f.removed_in !== null && f.removed_in !== undefined ? ' in layer ' + f.removed_in : '');
      row(secretsBody, [[f.severity], [f.confidence], [f.layer === null ? '-' : f.layer, 'num'], [f.rule, 'code'],
        [where, 'code'], [status], [f['match'], 'code']]);
    });
    if (data.secret_count > data.secrets.length) {
      row(secretsBody, [['… and ' + (data.secret_count - data.secrets.length) + ' more', 'sub']]);
    }
  }

  // ---- file tree: children are built when a directory is opened --------------------------------------------------
  function treeItem(i) {
    var n = nodes[i];
    var label = (i === 0 ? '' : n.name) + (n.kind === 'l' ? ' (symlink)' : n.kind === 'h' ? ' (hardlink)' : '');
    if (n.kind !== 'd' || !n.children.length) {
      var leaf = el('div', 'leaf', label);
      leaf.appendChild(el('span', 'size', size(n.bytes) + (n.layer >= 0 ? ' · layer ' + n.layer : '')));
      leaf.title = describe(i);
      return leaf;
    }
    var d = el('details');
    var s = el('summary', '', label + '/');
    s.appendChild(el('span', 'size', size(n.bytes) + ' · ' + n.children.length + ' entries'));
    d.appendChild(s);
    d.addEventListener('toggle', function () {
      if (d.open && d.childNodes.length === 1) {
        n.children.forEach(function (c) { d.appendChild(treeItem(c)); });
      }
    });
    return d;
  }
  var rootItem = treeItem(0);
  document.getElementById('filetree').appendChild(rootItem);
  if (rootItem.tagName === 'DETAILS') { rootItem.open = true; }
}());
