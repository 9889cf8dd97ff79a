"use strict";
// Shared helpers: elements, the API, base64 arrays, colour maps and the view router.
// Text from the server is always set with textContent: nothing it sends is parsed as HTML or run.

const CL = {};

CL.el = function (tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("data-")) node.setAttribute(k, String(v));
    else node[k] = v;
  }
  for (const c of children || []) node.append(c);
  return node;
};

CL.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };

CL.status = function (text) { document.getElementById("status").textContent = text || ""; };

CL.api = async function (url, options) {
  const res = await fetch(url, options);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("application/json") ? await res.json() : { error: await res.text() };
  if (!res.ok) throw new Error(body.error || ("HTTP " + res.status));
  return body;
};

CL.bytes = function (b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};

CL.floats = function (b64) { return new Float32Array(CL.bytes(b64).buffer); };

CL.fmt = function (v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  const d = digits || 4;
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(d - 1);
  return Number(v.toFixed(d)).toString();
};

CL.int = function (v) { return v === null || v === undefined ? "–" : v.toLocaleString("en-US"); };

// value in [-1, 1] -> [r, g, b]: blue for negative, white at zero, red for positive
CL.diverging = function (t) {
  t = Math.max(-1, Math.min(1, t));
  if (t >= 0) return [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))];
  return [Math.round(255 * (1 + t)), Math.round(255 * (1 + t * 0.6)), 255];
};

// a canvas of w x h pixels filled by fn(x, y) -> [r, g, b]
CL.canvas = function (w, h, fn) {
  const c = CL.el("canvas", { width: w, height: h });
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = fn(x, y);
    const i = 4 * (y * w + x);
    img.data[i] = r; img.data[i + 1] = g; img.data[i + 2] = b; img.data[i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
};

CL.views = {};
CL.current = null;

CL.show = function (name) {
  if (!CL.views[name]) name = "model";
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + name;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
  if (CL.current && CL.current !== name && CL.views[CL.current].leave) CL.views[CL.current].leave();
  CL.current = name;
  CL.status("");
  Promise.resolve(CL.views[name].enter()).catch(function (e) { CL.status(e.message); });
};

window.addEventListener("hashchange", function () { CL.show(location.hash.slice(1)); });
window.addEventListener("DOMContentLoaded", async function () {
  try {
    CL.info = await CL.api("/api/info");
    document.getElementById("title").textContent = CL.info.title + (CL.info.live ? " (live)" : "");
  } catch (e) {
    CL.status(e.message);
    CL.info = {};
  }
  CL.show(location.hash.slice(1) || "model");
});
