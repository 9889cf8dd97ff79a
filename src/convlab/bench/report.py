"""The bench's result as markdown tables."""

from __future__ import annotations


def _fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def _format_row(r):
    return (f"{r['kind']:5s} {r['model']:9s} batch {r['batch']:4d}: convlab {_fmt(r['convlab_ips'])} img/s, "
            f"torch {_fmt(r['torch_ips'])} img/s, ratio {_fmt(r['ratio'], '.2f')}")


def format_markdown(result: dict) -> str:
    """The result as markdown tables (ratio = convlab time / torch time; lower is better)."""
    m, g = result["machine"], result["gemm"]
    lines = [f"Machine: {m.get('cpu', m['machine'])}, {m['cpu_count']} cores, {m['threads']} thread(s); "
             f"numpy {m['numpy']}, torch {m.get('torch') or 'absent'}; "
             f"float32 GEMM (1024^3) NumPy {g['gflops']:.1f} GFLOP/s, convlab's "
             f"({g.get('convlab_gemm', 'numpy.matmul')}) {g.get('convlab_gflops', float('nan')):.1f} GFLOP/s",
             "",
             "| training step | input | batch | convlab img/s | torch img/s | ratio | target |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["training"]:
        ok = "" if r.get("meets_target") is None else (" ok" if r["meets_target"] else " MISS")
        lines.append(f"| {r['model']} | {'x'.join(map(str, r['input']))} | {r['batch']} | {_fmt(r['convlab_ips'])} | "
                     f"{_fmt(r['torch_ips'])} | {_fmt(r['ratio'], '.2f')}x | <= {r.get('target', '-')}x{ok} |")
    lines += ["", "| inference | batch | convlab img/s | torch img/s | ratio |", "|---|---:|---:|---:|---:|"]
    for r in result["inference"]:
        lines.append(f"| {r['model']} | {r['batch']} | {_fmt(r['convlab_ips'])} | {_fmt(r['torch_ips'])} | "
                     f"{_fmt(r['ratio'], '.2f')}x |")
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
        lines += ["", "| conv2d layer | fwd ms convlab / torch | ratio | fwd+bwd ms convlab / torch | ratio "
                  "| GFLOP/s f+b | of GEMM |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in suite["layers"]:
            lines.append(f"| {r['layer']} | {r['convlab_fwd_ms']:.2f} / {r['torch_fwd_ms']:.2f} | {r['fwd_ratio']:.2f}x | "
                         f"{r['convlab_fwdbwd_ms']:.2f} / {r['torch_fwdbwd_ms']:.2f} | {r['fwdbwd_ratio']:.2f}x | "
                         f"{r['fwdbwd_gflops']:.1f} | {r['fraction_of_gemm']:.0%} |")
        lines.append(f"| geometric mean | | {suite['geomean_fwd_ratio']:.2f}x | | {suite['geomean_fwdbwd_ratio']:.2f}x | | |")
        geo = suite["geomean_fwdbwd_ratio"]
        lines.append("\nfwd+bwd geometric-mean targets: " + ", ".join(
            f"{name} <= {t}x {'ok' if geo <= t else 'MISS'}" for name, t in suite["targets_fwdbwd"].items()))
    s = result.get("seed_loops")
    if s:
        lines += ["", f"Seed loop conv2d {tuple(s['input'])} * {tuple(s['weight'])}: loop {s['loop_ms']:.1f} ms, "
                      f"fast path {s['fast_ms']:.2f} ms ({s['speedup']:.0f}x faster)"]
    for note in result["notes"]:
        lines.append(f"\nNote: {note}")
    return "\n".join(lines)
