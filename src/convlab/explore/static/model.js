"use strict";
// View 1: the model's layers (convlab.inspect.summary).

CL.views.model = {
  loaded: false,
  async enter() {
    if (this.loaded) return;
    const m = await CL.api("/api/model");
    const axes = (v) => (v ? (new Set(v).size === 1 ? String(v[0]) : v.join("x")) : "–");
    const head = CL.el("tr", {}, ["Layer", "Type", "Output shape", "Params", "MACs", "RF", "Jump"].map((t, n) => CL.el("th", { text: t, class: n < 3 ? "text" : "" })));
    const table = CL.clear(document.getElementById("model-table"));
    table.append(CL.el("thead", {}, [head]));
    const body = CL.el("tbody");
    for (const L of m.layers) {
      body.append(CL.el("tr", {}, [
        CL.el("td", { text: L.name }), CL.el("td", { class: "text", text: L.type }),
        CL.el("td", { class: "text", text: L.output_shape ? "(" + L.output_shape.join(", ") + ")" : "–" }),
        CL.el("td", { text: L.params === null ? "(repeat)" : CL.int(L.params) }), CL.el("td", { text: CL.int(L.macs) }),
        CL.el("td", { text: axes(L.rf) }), CL.el("td", { text: axes(L.jump) }),
      ]));
    }
    table.append(body);
    const pre = m.preprocessing;
    CL.clear(document.getElementById("model-summary")).append(CL.el("p", {
      text: m.model + ": input (" + m.input_shape.join(", ") + ") → output (" + m.output_shape.join(", ") + "); " +
        CL.int(m.total_params) + " parameters, " + CL.int(m.total_macs) + " multiply-accumulates per image; " +
        m.classes.length + " classes; preprocessing: " + pre.text,
    }));
    this.loaded = true;
  },
};
