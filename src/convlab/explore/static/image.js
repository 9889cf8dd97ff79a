"use strict";
// Views 2 and 3: an image's prediction and feature maps; a clicked cell's receptive field and formula.

CL.views.image = {
  key: null,
  picked: null,
  async enter() {
    if (this.wired) return;
    this.wired = true;
    const self = this;
    const index = document.getElementById("test-index");
    document.getElementById("test-show").addEventListener("click", () => self.showTest(+index.value));
    document.getElementById("test-random").addEventListener("click", () => {
      index.value = Math.floor(Math.random() * Math.max(1, CL.info.test_items || 1));
      self.showTest(+index.value);
    });
    document.getElementById("upload").addEventListener("change", (ev) => self.upload(ev.target.files[0]));
    if (CL.info.test_items) {
      index.max = CL.info.test_items - 1;
      await this.showTest(0);
    } else {
      document.getElementById("image-note").textContent = CL.info.test_error || "no test split: upload an image";
    }
  },

  async showTest(i) {
    await this.render(CL.api("/api/test/" + Math.max(0, Math.floor(i) || 0)));
  },

  async upload(file) {
    if (!file) return;
    await this.render(CL.api("/api/upload", { method: "POST", body: file, headers: { "content-type": file.type || "application/octet-stream" } }));
  },

  async render(pending) {
    let r;
    try { r = await pending; } catch (e) { CL.status(e.message); return; }
    CL.status("");
    this.key = r.key;
    this.picked = null;
    document.getElementById("image-note").textContent =
      (r.label !== undefined ? "label: " + r.label : "uploaded") + (r.note ? " (converted: " + r.note + ")" : "");
    this.drawInput(r.input);
    const pred = CL.clear(document.getElementById("prediction"));
    pred.append(CL.el("div", { id: "predicted", text: "prediction: " + r.prediction }));
    for (const t of r.topk) {
      pred.append(CL.el("div", { class: "bar" }, [
        CL.el("span", { class: "label", text: t["class"] }),
        CL.el("span", { class: "fill", style: "width:" + Math.max(1, Math.round(140 * t.probability)) + "px" }),
        CL.el("span", { text: (100 * t.probability).toFixed(1) + "%" }),
      ]));
    }
    const layers = CL.clear(document.getElementById("layers"));
    for (const L of r.layers) layers.append(this.layerBlock(L));
    document.getElementById("cell").hidden = true;
    this.drawBox(null);
  },

  drawInput(inp) {
    const c = document.getElementById("input-canvas");
    c.width = inp.width; c.height = inp.height;
    const px = CL.bytes(inp.data), n = inp.width * inp.height;
    const ctx = c.getContext("2d"), img = ctx.createImageData(inp.width, inp.height);
    for (let k = 0; k < n; k++) {
      const rgb = inp.channels === 3 ? [px[k], px[n + k], px[2 * n + k]] : [px[k], px[k], px[k]];
      img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k);
    }
    ctx.putImageData(img, 0, 0);
    this.inputSize = [inp.height, inp.width];
  },

  layerBlock(L) {
    const self = this;
    const [dh, dw] = L.drawn, px = CL.bytes(L.data), hw = dh * dw;  // drawn: every k-th cell of a large map
    const maps = CL.el("div", { class: "maps" });
    for (let ch = 0; ch < L.channels; ch++) {
      const c = CL.canvas(dw, dh, (x, y) => { const v = px[ch * hw + y * dw + x]; return [v, v, v]; });
      c.className = "pixelated";
      c.dataset.layer = L.index; c.dataset.channel = ch;
      c.title = L.name + " channel " + ch + " (" + CL.fmt(L.min[ch]) + " .. " + CL.fmt(L.max[ch]) + ")";
      if (L.clickable) c.addEventListener("click", (ev) => {
        const j = Math.min(L.width - 1, Math.floor(ev.offsetX / c.clientWidth * L.width));
        const i = Math.min(L.height - 1, Math.floor(ev.offsetY / c.clientHeight * L.height));
        self.pick(c, L, ch, i, j);
      });
      maps.append(c);
    }
    const more = L.shape[0] > L.channels ? " (first " + L.channels + " of " + L.shape[0] + " channels)" : "";
    return CL.el("div", { class: "layer" }, [
      CL.el("div", { class: "layer-head", text: L.name }, [CL.el("span", { text: L.type + " → " + L.shape.join("x") + more })]),
      maps,
    ]);
  },

  async pick(canvas, L, ch, i, j) {
    if (this.picked) { this.picked.canvas.classList.remove("picked"); this.picked.ctx.putImageData(this.picked.saved, 0, 0); }
    const ctx = canvas.getContext("2d");
    this.picked = { canvas: canvas, ctx: ctx, saved: ctx.getImageData(0, 0, canvas.width, canvas.height) };
    canvas.classList.add("picked");
    ctx.fillStyle = "rgba(232, 89, 12, 0.85)";
    const sx = canvas.width / L.width, sy = canvas.height / L.height;  // 1 unless the map was drawn smaller
    ctx.fillRect(Math.floor(j * sx), Math.floor(i * sy), Math.max(1, Math.round(sx)), Math.max(1, Math.round(sy)));
    let r;
    try {
      r = await CL.api("/api/cell?image=" + encodeURIComponent(this.key) + "&layer=" + L.index + "&c=" + ch + "&i=" + i + "&j=" + j);
    } catch (e) { CL.status(e.message); return; }
    this.drawBox(r.box);
    this.showCell(r);
  },

  drawBox(box) {
    const o = document.getElementById("rf-canvas");
    o.width = 224; o.height = 224;
    const ctx = o.getContext("2d");
    ctx.clearRect(0, 0, 224, 224);
    const text = document.getElementById("rf-text");
    for (const k of ["top", "left", "bottom", "right"]) delete o.dataset[k];
    if (!box) { text.textContent = ""; return; }
    const [h, w] = this.inputSize, sy = 224 / h, sx = 224 / w, b = box.clipped;
    Object.assign(o.dataset, { top: b.top, left: b.left, bottom: b.bottom, right: b.right });
    ctx.fillStyle = "rgba(232, 89, 12, 0.18)";
    ctx.strokeStyle = "#e8590c"; ctx.lineWidth = 2;
    ctx.fillRect(b.left * sx, b.top * sy, (b.right - b.left + 1) * sx, (b.bottom - b.top + 1) * sy);
    ctx.strokeRect(b.left * sx + 1, b.top * sy + 1, (b.right - b.left + 1) * sx - 2, (b.bottom - b.top + 1) * sy - 2);
    text.textContent = "receptive field: rows " + b.top + ".." + b.bottom + ", columns " + b.left + ".." + b.right +
      " (" + box.size.join("x") + " pixels" + (box.top < 0 || box.left < 0 || box.bottom >= h || box.right >= w ? ", partly in the padding" : "") +
      "; jump " + box.jump.join("x") + ")";
  },

  showCell(r) {
    const panel = CL.clear(document.getElementById("cell"));
    panel.hidden = false;
    panel.append(CL.el("h3", { text: r.layer + " (" + r.type + "), channel " + r.channel + ", cell (" + r.row + ", " + r.column + ") = " + CL.fmt(r.value, 6) }));
    const f = r.formula;
    if (!f) { panel.append(CL.el("p", { class: "hint", text: "no formula for this layer type" })); return; }
    if (f.kind === "conv") this.convFormula(panel, f, r.value);
    else if (f.kind === "maxpool" || f.kind === "avgpool") {
      panel.append(CL.el("p", { text: (f.kind === "maxpool" ? "max" : "mean") + " of the " + f.kernel_size.join("x") + " window (stride " + f.stride.join("x") + "):" }));
      panel.append(CL.el("div", { class: "formula" }, [this.matrix("input window", f.patch, f.inside)]));
      panel.append(this.total([["result", f.result, "formula-result"], ["library output", r.value, "formula-library"]]));
    } else {
      panel.append(CL.el("p", { text: f.text + " with x = " + CL.fmt(f.input, 6) }));
      panel.append(this.total([["result", f.output, "formula-result"], ["library output", r.value, "formula-library"]]));
    }
  },

  convFormula(panel, f, value) {
    const n = f.channels.length * f.kernel_size[0] * f.kernel_size[1];
    panel.append(CL.el("p", { text: "S = bias + Σ over " + f.channels.length + " input channel(s) of Σ kernel × input patch" +
      " (kernel " + f.kernel_size.join("x") + ", stride " + f.stride.join("x") + ", padding " + f.padding.join("x") + ", dilation " + f.dilation.join("x") +
      "; input rows " + f.rows.join(",") + ", columns " + f.cols.join(",") + "; greyed cells are zero padding)" }));
    panel.append(this.total([
      ["sum of the " + n + " products", f.sum, "formula-sum"],
      ["bias", f.bias === null ? 0 : f.bias, "formula-bias", f.bias === null ? "none" : null],
      ["sum + bias", f.result, "formula-result"],
      ["library output", value, "formula-library"],
    ]));
    const blocks = f.channels.map((c) => CL.el("div", { class: "formula", "data-channel": c.channel }, [
      this.matrix("kernel K[" + c.channel + "]", c.kernel),
      this.matrix("input patch X[" + c.channel + "]", c.patch, f.inside),
      this.matrix("products K·X (sum " + CL.fmt(c.sum, 6) + ")", c.products, f.inside),
    ]));
    const shown = 6;
    for (const b of blocks.slice(0, shown)) panel.append(b);
    if (blocks.length > shown) {
      panel.append(CL.el("details", {}, [CL.el("summary", { text: "the other " + (blocks.length - shown) + " input channels" }), ...blocks.slice(shown)]));
    }
  },

  total(rows) {
    return CL.el("div", { class: "total" }, rows.map(([label, v, id, shown]) =>
      CL.el("div", {}, [label + " = ", CL.el("span", { id: id, "data-value": v, text: shown || CL.fmt(v, 6) })])));
  },

  matrix(caption, rows, inside) {
    const t = CL.el("table", {}, [CL.el("caption", { text: caption })]);
    rows.forEach((row, a) => t.append(CL.el("tr", {}, row.map((v, b) =>
      CL.el("td", { class: inside && !inside[a][b] ? "pad" : "", text: CL.fmt(v, 3) })))));
    return t;
  },
};
