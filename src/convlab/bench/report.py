"""The bench's result as markdown tables."""

from __future__ import annotations


def _fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def _format_row(r):
    return (f"{r['kind']:5s} {r['model']:9s} batch {r['batch']:4d}: convlab {_fmt(r['convlab_ips'])} img/s, "
            f"torch {_fmt(r['torch_ips'])} img/s, ratio {_fmt(r['ratio'], '.2f')}")


def _model_tables(training, inference, title):
    lines = [f"| training step ({title}) | input | batch | convlab img/s | torch img/s | ratio | target |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in training:
        ok = "" if r.get("meets_target") is None else (" ok" if r["meets_target"] else " MISS")
        lines.append(f"| {r['model']} | {'x'.join(map(str, r['input']))} | {r['batch']} | {_fmt(r['convlab_ips'])} | "
                     f"{_fmt(r['torch_ips'])} | {_fmt(r['ratio'], '.2f')}x | <= {r.get('target', '-')}x{ok} |")
    lines += ["", f"| inference ({title}) | batch | convlab img/s | torch img/s | ratio | target |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in inference:
        ok = "" if r.get("meets_target") is None else (" ok" if r["meets_target"] else " MISS")
        lines.append(f"| {r['model']} | {r['batch']} | {_fmt(r['convlab_ips'])} | {_fmt(r['torch_ips'])} | "
                     f"{_fmt(r['ratio'], '.2f')}x | <= {r.get('target', '-')}x{ok} |")
    return lines


def _conv_table(suite, title):
    lines = ["", f"| conv2d layer ({title}) | fwd ms convlab / torch | ratio | fwd+bwd ms convlab / torch | ratio "
             "| GFLOP/s f+b | of GEMM | of peak x threads |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in suite["layers"]:
        peak = r.get("fraction_of_peak")
        lines.append(f"| {r['layer']} | {r['convlab_fwd_ms']:.2f} / {r['torch_fwd_ms']:.2f} | {r['fwd_ratio']:.2f}x | "
                     f"{r['convlab_fwdbwd_ms']:.2f} / {r['torch_fwdbwd_ms']:.2f} | {r['fwdbwd_ratio']:.2f}x | "
                     f"{r['fwdbwd_gflops']:.1f} | {r['fraction_of_gemm']:.0%} | {'-' if peak is None else format(peak, '.0%')} |")
    lines.append(f"| geometric mean | | {suite['geomean_fwd_ratio']:.2f}x | | {suite['geomean_fwdbwd_ratio']:.2f}x | | | |")
    return lines


def _scaling_table(sc):
    counts = sc["threads"]
    lines = ["", "| scaling (convlab alone, minimum of the repeats) | batch | " + " | ".join(f"{t} thr ms (eff.)" for t in counts)
             + f" | parallel fraction | {sc['estimate_cores']} cores ms (estimate) |",
             "|---|---:|" + "---:|" * len(counts) + "---:|---:|"]
    for r in sc["rows"]:
        cells = " | ".join(f"{ms:.2f} ({eff:.0%})" for ms, eff in zip(r["ms"], r["efficiency"]))
        p, est = r["parallel_fraction"], r["estimate_ms_16"]
        lines.append(f"| {r['kind']} {r['model']} | {r['batch']} | {cells} | {_fmt(p, '.2f')} | {_fmt(est, '.2f')} |")
    lines.append(f"\nThe {sc['estimate_cores']}-core column is an estimate, not a measurement: Amdahl's law "
                 f"t1 * ((1 - p) + p / {sc['estimate_cores']}) with p the parallel fraction that the measured "
                 f"{counts[-1]}-thread speed-up implies.")
    return lines


def _conv_scaling_table(rows):
    counts = rows[0]["threads"]
    lines = ["", "| conv layer, convlab alone | " + " | ".join(f"fwd ms {t} thr" for t in counts) + " | "
             + " | ".join(f"f+b ms {t} thr" for t in counts) + " |",
             "|---|" + "---:|" * (2 * len(counts))]
    for r in rows:
        lines.append(f"| {r['layer']} | " + " | ".join(f"{v:.2f}" for v in r["fwd_ms"]) + " | "
                     + " | ".join(f"{v:.2f}" for v in r["fwdbwd_ms"]) + " |")
    return lines


def format_markdown(result: dict) -> str:
    """The result as markdown tables (ratio = convlab time / torch time; lower is better): the
    default thread count first, then one thread, the scaling table and the never-slower check."""
    m, g = result["machine"], result["gemm"]
    peak = result.get("peak")
    lines = [f"Machine: {m.get('cpu', m['machine'])}, {m['cpu_count']} cores, {m['threads']} thread(s); "
             f"numpy {m['numpy']}, torch {m.get('torch') or 'absent'}; "
             f"float32 GEMM (1024^3) NumPy {g['gflops']:.1f} GFLOP/s, convlab's "
             f"({g.get('convlab_gemm', 'numpy.matmul')}) {g.get('convlab_gflops', float('nan')):.1f} GFLOP/s"]
    if peak:
        split = f", AVX-512 {peak['avx512']} (ymm {peak['ymm_per_core_gflops']:.0f} per core)" if "avx512" in peak else ""
        lines.append(f"FMA peak ({peak['width']}-bit, register-only loop): {peak['per_core_gflops']:.0f} GFLOP/s per "
                     f"core, {peak['all_threads_gflops']:.0f} on {peak['threads']} thread(s){split}")
    lines.append("")
    lines += _model_tables(result["training"], result["inference"], f"{m['threads']} threads")
    one = result.get("one_thread")
    if one:
        lines += [""] + _model_tables(one["training"], one["inference"], "1 thread")
    if result.get("scaling"):
        lines += _scaling_table(result["scaling"])
    if result.get("conv_scaling"):
        lines += _conv_scaling_table(result["conv_scaling"])
    ns = result.get("never_slower")
    if ns:
        worst = ns["worst"]
        lines.append(f"\nNever slower with more threads (each row <= {1 + result['scaling']['noise']:.2f}x its 1-thread "
                     f"time, {ns['checked']} rows): {'ok' if ns['ok'] else 'FAIL'}"
                     + ("" if worst is None else f"; worst {worst['what']} {worst['ratio']:.2f}x")
                     + "".join(f"\n- slower: {b['what']} {b['ratio']:.2f}x" for b in ns["slower"]))
    if result["memory"]:
        lines += ["", "| peak memory (training step) | batch | convlab MB (step +MB) | torch MB (step +MB) | ratio |",
                  "|---|---:|---:|---:|---:|"]
        for r in result["memory"]:
            t = r["torch"]
            lines.append(f"| {r['model']} | {r['batch']} | {r['convlab']['peak_mb']:.0f} (+{r['convlab']['step_mb']:.0f}) | "
                         + ("-" if t is None else f"{t['peak_mb']:.0f} (+{t['step_mb']:.0f})")
                         + f" | {_fmt(r['ratio'], '.2f')}x |")
    suite = result.get("conv_suite")
    if suite and suite.get("layers"):
        lines += _conv_table(suite, f"{suite.get('threads', m['threads'])} threads")
        geo = suite["geomean_fwdbwd_ratio"]
        lines.append("\nfwd+bwd geometric-mean targets: " + ", ".join(
            f"{name} <= {t}x {'ok' if geo <= t else 'MISS'}" for name, t in suite["targets_fwdbwd"].items()))
    one_suite = result.get("conv_suite_one_thread")
    if one_suite and one_suite.get("layers"):
        lines += _conv_table(one_suite, "1 thread")
    s = result.get("seed_loops")
    if s:
        lines += ["", f"Seed loop conv2d {tuple(s['input'])} * {tuple(s['weight'])}: loop {s['loop_ms']:.1f} ms, "
                      f"fast path {s['fast_ms']:.2f} ms ({s['speedup']:.0f}x faster)"]
    for note in result["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
