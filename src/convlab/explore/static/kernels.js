"use strict";
// View 4: every convolution's kernels; the first layer in colour.

CL.kernelCanvas = function (w, o, i, kh, kw, scale, colour) {
  // one kernel w[o, i] (or, for an RGB first layer, the three input channels of w[o] as one colour picture)
  const [, I] = w.shape;
  const at = (oo, ii, y, x) => w.values[((oo * I + ii) * kh + y) * kw + x];
  return CL.canvas(kw, kh, (x, y) => {
    if (colour === "rgb") return [0, 1, 2].map((ch) => Math.round(255 * (0.5 + 0.5 * at(o, ch, y, x) / scale)));
    if (colour === "diverging") return CL.diverging(at(o, i, y, x) / scale);
    const g = Math.round(255 * (0.5 + 0.5 * at(o, i, y, x) / scale));
    return [g, g, g];
  });
};

CL.kernelGrid = function (layer, first) {
  const [O, I, kh, kw] = layer.shown;
  const w = { shape: layer.shown, values: CL.floats(layer.data) };
  const scale = layer.absmax || 1;
  const rgb = first && I === 3;
  const cols = rgb ? 1 : I;  // kernels drawn per output channel
  const grid = CL.el("div", { class: "kgrid" });
  const cell = first ? 40 : Math.max(10, Math.min(28, Math.floor(900 / cols)));
  // one picture per output channel (an RGB or single-input first layer): 16 to a row; else a row per output channel
  const perRow = cols === 1 ? Math.min(O, 16) : cols;
  grid.style.gridTemplateColumns = "repeat(" + perRow + ", " + cell + "px)";
  for (let o = 0; o < O; o++) for (let i = 0; i < cols; i++) {
    const c = CL.kernelCanvas(w, o, i, kh, kw, scale, rgb ? "rgb" : first ? "diverging" : "gray");
    c.title = layer.name + " out " + o + (rgb ? "" : " in " + i);
    grid.append(c);
  }
  return grid;
};

CL.views.kernels = {
  loaded: false,
  async enter() {
    if (this.loaded) return;
    const r = await CL.api("/api/kernels");
    const box = CL.clear(document.getElementById("kernel-layers"));
    r.layers.forEach((L, n) => {
      const cut = L.shown[0] < L.shape[0] || L.shown[1] < L.shape[1] ? " (showing " + L.shown[0] + " x " + L.shown[1] + ")" : "";
      box.append(CL.el("div", { class: "kernel-layer" }, [
        CL.el("div", { class: "layer-head", text: L.name }, [CL.el("span", { text: "weight " + L.shape.join("x") + ", |w| ≤ " + CL.fmt(L.absmax) + cut })]),
        CL.kernelGrid(L, n === 0),
      ]));
    });
    this.loaded = true;
  },
};
