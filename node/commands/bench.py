"""``yilian bench``: run benchmarks, print a table, write results to a JSON file."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import platform
import time
from pathlib import Path

import click

from node.bench._speed import SpeedProbe


def _available() -> list[str]:
    import node.bench

    return sorted(info.name for info in pkgutil.iter_modules(node.bench.__path__) if not info.name.startswith("_"))


def _rows(prefix: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows = []
        for key, item in value.items():
            rows.extend(_rows(f"{prefix}.{key}" if prefix else str(key), item))
        return rows
    return [(prefix, str(value))]


@click.command("bench")
@click.argument("names", nargs=-1)
@click.option("--quick", is_flag=True, help="Short runs (for CI): same figures, less precision.")
@click.option("--nodes", type=click.IntRange(1, 16), multiple=True,
              help="Validator counts for the localnet benchmark (repeat; default 1 4 7 10, with --quick 1 4).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("bench-results.json"), show_default=True, help="Where to write the JSON results.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bench"), show_default=True,
              help="Where to write RESULTS.md and one PNG chart per benchmark.")
def command(names: tuple[str, ...], quick: bool, nodes: tuple[int, ...], out: Path, report_dir: Path) -> None:
    """Run the benchmarks NAMES (default: all) and write their results to --out."""
    available = _available()
    chosen = list(names) or available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise click.UsageError(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    results: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "benchmarks": {},
    }
    speed = SpeedProbe().start()  # how fast the (shared) machine ran while each benchmark ran
    try:
        for name in chosen:
            module = importlib.import_module(f"node.bench.{name}")
            click.secho(f"== {name}", bold=True, err=True)
            started = time.perf_counter()
            parameters = inspect.signature(module.run).parameters
            extra = {key: value for key, value in (("nodes", nodes), ("speed", speed)) if key in parameters}
            with speed.period(name):
                outcome = module.run(quick, lambda message: click.echo(f"   … {message}", err=True), **extra)
            outcome["seconds"] = round(time.perf_counter() - started, 2)
            results["benchmarks"][name] = outcome
            for key, value in _rows("", outcome):
                click.echo(f"   {name}.{key:<40} {value}")
            during = speed.summary(*speed.periods[name])
            if during["samples"]:
                click.echo(f"   (machine speed: reference work p50 {during['p50_ms']} ms over {during['samples']} samples; "
                           f"fastest so far {min(ms for _, ms in speed.samples)} ms)", err=True)
    finally:
        speed.stop()
    results["machine"]["speed"] = speed.report()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    from node.bench._report import write_report

    written = write_report(results, report_dir)
    click.secho(f"results written to {out}; table and charts in {', '.join(str(p) for p in written)}", fg="green", err=True)
