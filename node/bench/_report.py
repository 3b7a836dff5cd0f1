"""RESULTS.md (one table per benchmark) and a PNG bar chart per benchmark, from the JSON results."""

from __future__ import annotations

from pathlib import Path


def _leaves(prefix: str, value: object) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found += _leaves(f"{prefix}.{key}" if prefix else str(key), item)
        return found
    return [(prefix, value)]


def write_report(results: dict, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    machine = results["machine"]
    lines = ["# Benchmark results", "", f"Run {results['started']}{' (--quick)' if results['quick'] else ''} on "
             f"{machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}. Ratios compare a figure with its "
             "ceiling or baseline measured in the same run.", ""]
    if results.get("note"):
        lines += [results["note"], ""]
    written = []
    speed = machine.get("speed")
    if speed and speed.get("samples"):
        path = directory / "speed.png"
        _speed_figure(plt, speed, path)
        written.append(path)
        lines += _speed_lines(speed) + [f"![machine speed]({path.name})", ""]
    for name, outcome in results["benchmarks"].items():
        leaves = [(key, value) for key, value in _leaves("", outcome) if key != "seconds"]
        lines += [f"## {name}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value:,} |" if isinstance(value, (int, float)) and not isinstance(value, bool) else f"| {key} | {value} |"
                  for key, value in leaves]
        lines += ["", f"({outcome.get('seconds', '?')} s)", ""]
        numeric = [(key, float(value)) for key, value in leaves
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and "ratio" not in key and value > 0]
        if name == "localnet" and _localnet_sizes(outcome):
            path = directory / f"{name}.png"
            _localnet_figure(plt, outcome, path)
            written.append(path)
            lines += [f"![{name}]({path.name})", ""]
        elif numeric:
            figure, axis = plt.subplots(figsize=(8, 0.4 * len(numeric) + 1.2))
            axis.barh([key for key, _ in numeric], [value for _, value in numeric], color="#0b3d6e")
            if max(v for _, v in numeric) / min(v for _, v in numeric) > 100:
                axis.set_xscale("log")
            axis.invert_yaxis()
            axis.set_title(f"yilian bench {name}")
            figure.tight_layout()
            path = directory / f"{name}.png"
            figure.savefig(path, dpi=90)
            plt.close(figure)
            written.append(path)
            lines += [f"![{name}]({path.name})", ""]
    report = directory / "RESULTS.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [report, *written]


def _localnet_sizes(outcome: dict) -> list[tuple[int, dict]]:
    return sorted((int(key[1:]), value) for key, value in outcome.items()
                  if key.startswith("n") and key[1:].isdigit() and isinstance(value, dict) and "peak_per_s" in value)


def _localnet_figure(plt, outcome: dict, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Commit latency against finalized load for each network size, and each size's peak against its target."""
    sizes = _localnet_sizes(outcome)
    figure, (curves, peaks) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    for nodes, figures in sizes:
        phases = [figures[f"at_{level}pct"] for level in (25, 50, 100) if f"at_{level}pct" in figures]
        rates = [phase["finalized_per_s"] for phase in phases]
        line = curves.plot(rates, [phase["latency_p50_ms"] for phase in phases], marker="o", label=f"N = {nodes} p50")[0]
        curves.plot(rates, [phase["latency_p99_ms"] for phase in phases], marker="x", linestyle="--", color=line.get_color(),
                    label=f"N = {nodes} p99")
    curves.axhline(500, color="grey", linewidth=0.8, linestyle=":")
    curves.text(curves.get_xlim()[0], 520, " p50 target at half of peak (500 ms)", fontsize=8, color="grey")
    curves.set_yscale("log")
    curves.set_xlabel("finalized tx/s (at 25, 50 and 100 % of each peak)")
    curves.set_ylabel("commit latency, ms")
    curves.legend(fontsize=8, ncol=2)
    curves.set_title("latency against load")
    labels = [f"N = {nodes}" for nodes, _ in sizes]
    peaks.bar(labels, [figures["peak_per_s"] for _, figures in sizes], color="#0b3d6e", label="burst peak")
    targets = [figures.get("target_per_s") for _, figures in sizes]
    peaks.scatter([label for label, target in zip(labels, targets) if target], [target for target in targets if target],
                  marker="_", s=900, color="#c0392b", label="target 0.7 × ceiling × cores ÷ N", zorder=3)
    concurrent = [figures.get("ceiling_concurrent", {}).get("per_s") for _, figures in sizes]
    peaks.scatter([label for label, limit in zip(labels, concurrent) if limit], [limit for limit in concurrent if limit],
                  marker="_", s=900, color="#27ae60", label="N processes only executing (measured)", zorder=3)
    peaks.set_ylim(0, 1.3 * max([figures["peak_per_s"] for _, figures in sizes] + [t for t in targets + concurrent if t]))  # room for the legend
    peaks.set_ylabel("tx/s")
    peaks.legend(fontsize=8)
    peaks.set_title("peak, target and the execution-only limit")
    figure.suptitle("yilian bench localnet")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _speed_lines(speed: dict) -> list[str]:
    """The machine-speed section: per benchmark (and ceiling, and peak probe) the probe's samples against the fastest."""
    lines = ["## Machine speed during the run", "",
             f"A probe process timed a fixed piece of work ({speed['reference']}); the fastest sample of the run took "
             f"{speed['fastest_ms']} ms. On this shared machine the same code runs up to ~2× slower in some spells than "
             "in others, so a figure is best read with the speed of the period it was measured in (1.00 = the fastest).",
             "", "| period | samples | p10 ms | p50 ms | p90 ms | p50 ÷ fastest |", "|---|---|---|---|---|---|"]
    for name, period in speed["periods"].items():
        if period.get("samples"):
            lines.append(f"| {name} | {period['samples']} | {period['p10_ms']} | {period['p50_ms']} | {period['p90_ms']} | "
                         f"{period.get('p50_vs_fastest', '')} |")
        else:
            lines.append(f"| {name} | 0 | | | | |")
    return lines + [""]


def _speed_figure(plt, speed: dict, path: Path) -> None:  # type: ignore[no-untyped-def]
    """The probe's samples over the run and their running median, each benchmark's span shaded and named."""
    import statistics

    figure, axis = plt.subplots(figsize=(12, 3.6))
    times = [at / 60 for at, _ in speed["samples"]]
    values = [ms for _, ms in speed["samples"]]
    axis.plot(times, values, linewidth=0.5, color="#9aa9b8", label="each sample")
    window = 15
    medians = [statistics.median(values[max(0, i - window // 2):i + window // 2 + 1]) for i in range(len(values))]
    axis.plot(times, medians, linewidth=1.6, color="#0b3d6e", label=f"running median of {window}")
    if speed["fastest_ms"]:
        axis.axhline(speed["fastest_ms"], color="#c0392b", linewidth=0.8, linestyle=":", label="fastest sample")
    top = max(values) * 1.25
    benchmarks = [(name, period) for name, period in speed["periods"].items() if " " not in name]  # not the sub-periods
    for index, (name, period) in enumerate(benchmarks):
        axis.axvspan(period["from_s"] / 60, period["to_s"] / 60, color=("#dfe8f1", "#f1ecdf")[index % 2], zorder=0)
        axis.text((period["from_s"] + period["to_s"]) / 120, top * (0.97 if index % 2 == 0 else 0.90), name, ha="center", va="top", fontsize=8)
    axis.set_ylim(0, top)
    axis.set_xlabel("minutes into the run")
    axis.set_ylabel("reference work, ms of CPU")
    axis.set_title("machine speed during the run (lower is faster)")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
