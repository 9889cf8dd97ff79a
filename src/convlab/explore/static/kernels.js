"use strict";
// View 4: every convolution's kernels; the first layer in colour.

// the colour of pixel (y, x) of kernel w[o, i] (for an RGB first layer, w[o]'s three input channels as one colour)
CL.kernelColour = function (w, o, i, y, x, scale, colour) {
  const [, I, kh, kw] = w.shape;
  const at = (ii) => w.values[((o * I + ii) * kh + y) * kw + x];
  if (colour === "rgb") return [0, 1, 2].map((ch) => Math.round(255 * (0.5 + 0.5 * at(ch) / scale)));
  if (colour === "diverging") return CL.diverging(at(i) / scale);
  const g = Math.round(255 * (0.5 + 0.5 * at(i) / scale));
  return [g, g, g];
};

CL.kernelCanvas = function (w, o, i, kh, kw, scale, colour) {
  return CL.canvas(kw, kh, (x, y) => CL.kernelColour(w, o, i, y, x, scale, colour));
};

CL.kernelGrid = function (layer, first) {
  // every kernel of a layer in one canvas (thousands of small canvases would be slow to draw):
  // one picture per output channel (an RGB or single-input first layer), 16 to a row; else a row per
  // output channel and a column per input channel; one pixel of gap between kernels
  const [O, I, kh, kw] = layer.shown;
  const w = { shape: layer.shown, values: CL.floats(layer.data) };
  const scale = layer.absmax || 1;
  const rgb = first && I === 3;
  const cols = rgb ? 1 : I;
  const colour = rgb ? "rgb" : first ? "diverging" : "gray";
  const perRow = cols === 1 ? Math.min(O, 16) : cols;
  const tiles = O * cols, rows = Math.ceil(tiles / perRow);
  const W = perRow * (kw + 1) + 1, H = rows * (kh + 1) + 1;
  const canvas = CL.el("canvas", { width: W, height: H, class: "katlas" });
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(W, H);
  for (let k = 0; k < W * H; k++) img.data.set([214, 219, 226, 255], 4 * k);  // the gaps: light grey
  for (let t = 0; t < tiles; t++) {
    const o = Math.floor(t / cols), i = t % cols;
    const x0 = 1 + (t % perRow) * (kw + 1), y0 = 1 + Math.floor(t / perRow) * (kh + 1);
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      img.data.set(CL.kernelColour(w, o, i, y, x, scale, colour), 4 * ((y0 + y) * W + x0 + x));
    }
  }
  ctx.putImageData(img, 0, 0);
  const px = Math.max(2, Math.min(first ? 12 : 8, Math.floor(1000 / W)));  // CSS pixels per kernel pixel
  canvas.style.width = W * px + "px";
  canvas.style.height = H * px + "px";
  canvas.dataset.kernels = tiles;
  return canvas;
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
