"use strict";
// View 6: the run's curves, and the first layer's kernels as they change (server-sent events).

CL.plot = function (canvas, series, xlabel, title) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, L = 52, R = 12, T = 40, B = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#1d232b"; ctx.font = "13px system-ui, sans-serif";
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.fillText(title, L, 16);
  ctx.font = "13px system-ui, sans-serif";
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) { ctx.fillStyle = "#5b6573"; ctx.fillText("no records yet", L, H / 2); return; }
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  ctx.strokeStyle = "#d5dae1"; ctx.strokeRect(L, T, W - L - R, H - T - B);
  ctx.fillStyle = "#5b6573"; ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(CL.fmt(y1, 3), 4, T + 8); ctx.fillText(CL.fmt(y0, 3), 4, H - B);
  ctx.fillText(CL.fmt(x0, 3), L, H - B + 14); ctx.fillText(CL.fmt(x1, 3), W - R - 30, H - B + 14);
  ctx.fillText(xlabel, W / 2 - 20, H - 6);
  series.forEach((s, n) => {
    ctx.strokeStyle = s.colour; ctx.fillStyle = s.colour; ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.points.forEach((p, k) => (k ? ctx.lineTo(sx(p[0]), sy(p[1])) : ctx.moveTo(sx(p[0]), sy(p[1]))));
    ctx.stroke();
    for (const p of s.points.length < 40 ? s.points : []) ctx.fillRect(sx(p[0]) - 2, sy(p[1]) - 2, 4, 4);
    ctx.fillRect(L + 150 * n, T - 13, 10, 3);
    ctx.fillText(s.name, L + 14 + 150 * n, T - 8);
  });
};

CL.views.training = {
  updates: 0,
  async enter() {
    this.draw(await CL.api("/api/run"));
    if (!this.source) {
      this.source = new EventSource("/api/run/events");
      this.source.addEventListener("run", (ev) => { this.updates += 1; CL.status(""); this.draw(JSON.parse(ev.data)); });
      this.source.onerror = () => CL.status("the server does not answer (a live run stops it when training ends); retrying");
    }
  },

  leave() {
    if (this.source) { this.source.close(); this.source = null; }
  },

  draw(run) {
    const steps = run.records.filter((r) => r.kind === "step" && r.loss !== null);
    const epochs = run.records.filter((r) => r.kind === "epoch");
    const pick = (rows, x, y) => rows.filter((r) => r[y] !== null && r[y] !== undefined).map((r) => [r[x], r[y]]);
    CL.plot(document.getElementById("curve-loss"), [
      { name: "loss (steps)", colour: "#98a2b3", points: pick(steps, "step", "loss") },
      { name: "train loss", colour: "#1f6feb", points: pick(epochs, "step", "train_loss") },
      { name: "val loss", colour: "#e8590c", points: pick(epochs, "step", "val_loss") },
    ], "step", "loss");
    CL.plot(document.getElementById("curve-accuracy"), [
      { name: "train accuracy", colour: "#1f6feb", points: pick(epochs, "epoch", "train_accuracy") },
      { name: "val accuracy", colour: "#e8590c", points: pick(epochs, "epoch", "val_accuracy") },
    ], "epoch", "accuracy");
    const st = CL.clear(document.getElementById("run-status"));
    const cfg = run.config || {};
    st.append(CL.el("span", { class: run.live ? "live" : "", text: run.live ? "live: " : "" }));
    st.append(CL.el("span", { id: "run-step", "data-step": run.step === null ? "" : run.step, "data-updates": this.updates,
      text: (cfg.model ? cfg.model + " on " + cfg.dataset + ", " : "") + epochs.length + " epoch(s) logged, step " + CL.fmt(run.step) +
        "; updates received: " + this.updates }));
    const box = CL.clear(document.getElementById("run-kernels"));
    document.getElementById("run-kernel-step").textContent = run.kernels ? "(" + run.kernels.name + " at step " + run.step + ")" : "";
    if (!run.kernels) { box.append(CL.el("p", { class: "hint", text: "no checkpoint yet" })); return; }
    const k = run.kernels, [O, I, kh, kw] = k.shown, w = { shape: k.shown, values: CL.floats(k.data) };
    const colour = I === 3 ? "rgb" : "diverging";
    for (let o = 0; o < O; o++) {
      const c = CL.kernelCanvas(w, o, 0, kh, kw, k.absmax || 1, colour);
      c.title = k.name + " kernel " + o;
      box.append(c);
    }
    const s0 = run.kernels_start;
    const start = s0 ? { step: s0.step, w: { shape: s0.shown, values: CL.floats(s0.data) }, scale: s0.absmax || 1 } : null;
    this.remember(run.step, w, k.absmax || 1, colour, start);
  },

  // the first kernels at every step this page has seen (and, live, at the start of the run): seed 000's
  // random-to-learned kernel; ROWS rows spread evenly over everything seen
  history: [],
  remember(step, w, scale, colour, start) {
    if (start && !this.history.length) this.history.push({ step: start.step, w: start.w, scale: start.scale });
    const last = this.history[this.history.length - 1];
    if (last && last.step === step) return;
    this.history.push({ step: step, w: w, scale: scale });
    if (this.history.length > 4000) this.history.splice(1, 1);
    const ROWS = 10, n = this.history.length;
    const picks = n <= ROWS ? this.history : Array.from({ length: ROWS }, (_, r) => this.history[Math.round(r * (n - 1) / (ROWS - 1))]);
    const box = CL.clear(document.getElementById("run-history"));
    const [O, , kh, kw] = w.shape;
    for (const h of picks) {
      const row = CL.el("div", { class: "history-row" }, [CL.el("span", { class: "hint", text: "step " + CL.fmt(h.step) })]);
      for (let o = 0; o < Math.min(O, 12); o++) row.append(CL.kernelCanvas(h.w, o, 0, kh, kw, h.scale, colour));
      box.append(row);
    }
  },
};
