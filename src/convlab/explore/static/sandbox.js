"use strict";
// View 5: output sizes with the formula worked out, the library's errors, and kernels on a picture.

CL.views.sandbox = {
  async enter() {
    if (!this.wired) {
      this.wired = true;
      let timer = null;
      const later = () => { clearTimeout(timer); timer = setTimeout(() => this.update(), 150); };
      document.getElementById("sandbox-form").addEventListener("input", later);
      document.getElementById("filter-form").addEventListener("input", later);
      document.getElementById("sandbox-form").addEventListener("submit", (e) => e.preventDefault());
      document.getElementById("filter-form").addEventListener("submit", (e) => e.preventDefault());
    }
    await this.update();
  },

  query() {
    const q = new URLSearchParams(new FormData(document.getElementById("sandbox-form")));
    for (const [k, v] of new FormData(document.getElementById("filter-form"))) q.set(k, v);
    return q.toString();
  },

  async update() {
    const q = this.query();
    const size = CL.clear(document.getElementById("size-result"));
    try {
      const r = await CL.api("/api/sandbox/size?" + q);
      if (!r.ok) {
        size.append(CL.el("div", { class: "hint", text: "conv2d refuses this configuration:" }));
        size.append(CL.el("div", { id: "size-error", class: "error", text: r.error }));
      } else {
        size.append(CL.el("div", { class: "steps" }, r.steps.map((s) => CL.el("div", { text: s.axis + ": out = " + s.text }))));
        size.append(CL.el("p", { id: "size-output", text: "output: " + r.output.join(" x ") +
          (r.unvisited.some((u) => u) ? "  (the stride leaves " + r.unvisited.join(" rows, ") + " columns of the input unread)" : "") }));
      }
    } catch (e) { size.append(CL.el("div", { class: "error", text: e.message })); }
    const out = CL.clear(document.getElementById("filter-result"));
    try {
      const f = await CL.api("/api/sandbox/filter?" + q);
      const kernels = CL.el("div", { class: "pictures" }, [
        CL.el("figure", {}, [this.matrix(f.kernel), CL.el("figcaption", { text: "the kernel as written" })]),
        CL.el("figure", {}, [this.matrix(f.flipped), CL.el("figcaption", { text: "turned 180°: what a cross-correlation must hold to convolve" })]),
      ]);
      out.append(kernels);
      if (f.error) { out.append(CL.el("div", { id: "filter-error", class: "error", text: f.error })); return; }
      out.append(CL.el("div", { class: "pictures" }, [
        this.figure(f.picture, "the picture (" + f.picture_size.join("x") + ")"),
        this.figure(f.convolution, "true convolution (kernel flipped), " + f.output_size.join("x")),
        this.figure(f.correlation, "cross-correlation (a Conv2d layer), " + f.output_size.join("x")),
      ]));
      out.append(CL.el("p", { id: "filter-compare", text: f.same ? "The two are equal: this kernel is symmetric under a 180° turn."
        : "The two differ (largest difference " + CL.fmt(f.max_difference) + "): flipping this kernel changes it." }));
    } catch (e) { out.append(CL.el("div", { class: "error", text: e.message })); }
  },

  figure(src, caption) {
    return CL.el("figure", {}, [CL.el("img", { src: src, alt: caption }), CL.el("figcaption", { text: caption })]);
  },

  matrix(rows) {
    return CL.el("table", { class: "matrix" }, rows.map((r) => CL.el("tr", {}, r.map((v) => CL.el("td", { text: CL.fmt(v, 3) })))));
  },
};
