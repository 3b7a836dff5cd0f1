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
    for name, outcome in results["benchmarks"].items():
        leaves = [(key, value) for key, value in _leaves("", outcome) if key != "seconds"]
        lines += [f"## {name}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value:,} |" if isinstance(value, (int, float)) and not isinstance(value, bool) else f"| {key} | {value} |"
                  for key, value in leaves]
        lines += ["", f"({outcome.get('seconds', '?')} s)", ""]
        numeric = [(key, float(value)) for key, value in leaves
                   if isinstance(value, (int, float)) and not isinstance(value, bool) and "ratio" not in key and value > 0]
        if numeric:
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
