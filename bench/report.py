"""Pure helpers of the peer comparison report: medians into table rows (ratios and targets) in
markdown, and the scaling plots (matplotlib, imported only when plotting)."""

import re
from dataclasses import dataclass

QSERV = "qserv"


@dataclass(frozen=True)
class Measurement:
    """The median (p50, or p95 where the workload says so) seconds of one workload on one
    system at one size (director rows); ``rows`` is what a rate is computed on (ingest);
    ``errors`` counts the calls that failed (concurrent workloads)."""

    workload: str
    size: int
    system: str
    seconds: float
    samples: int = 1
    rows: int | None = None
    errors: int = 0


@dataclass(frozen=True)
class Target:
    """A target of an issue: qserv's time at most ``max_ratio`` times ``peer``'s, or at most
    ``max_seconds`` (absolute; then ``peer`` is None); a measurement with errors misses it."""

    text: str
    peer: str | None = None
    max_ratio: float | None = None
    max_seconds: float | None = None

    def applies(self, peer):
        return self.peer is None or self.peer == peer

    def met(self, ours, theirs=None):
        """Whether the Measurement ``ours`` meets the target (``theirs``: the peer's)."""
        if ours.errors:
            return False
        if self.max_seconds is not None:
            return ours.seconds <= self.max_seconds
        return ours.seconds <= self.max_ratio * theirs.seconds


def format_seconds(seconds):
    if seconds != seconds:  # NaN
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def format_size(size):
    """1000000 -> '1e6', 3000 -> '3e3', 1234 -> '1234'."""
    exponent = len(str(int(size))) - 1
    mantissa = size / 10**exponent
    if size >= 1000 and mantissa == int(mantissa):
        return f"{int(mantissa)}e{exponent}"
    return str(int(size))


def format_ratio(qserv_seconds, peer_seconds):
    if not peer_seconds or peer_seconds != peer_seconds or qserv_seconds != qserv_seconds:
        return "—"
    ratio = qserv_seconds / peer_seconds
    return f"{ratio:.2f}" if ratio < 100 else f"{ratio:.0f}"


def _cell(measurement):
    text = format_seconds(measurement.seconds)
    if measurement.rows:
        text += f" ({measurement.rows / measurement.seconds / 1e6:.2f} M rows/s)"
    elif measurement.samples < 3:
        text += f" ({measurement.samples} run{'s' if measurement.samples > 1 else ''})"
    if measurement.errors:
        text += f" ({measurement.errors} errors)"
    return text


def _verdicts(targets, ours, theirs, peer, first):
    verdicts = []
    for target in targets:
        if not target.applies(peer) or (target.peer is None and not first):
            continue  # an absolute target is judged once, on the first row
        if ours is None or (target.peer is not None and theirs is None):
            continue
        verdicts.append(f"{target.text}: {'met' if target.met(ours, theirs) else 'missed'}")
    return "; ".join(verdicts)


def table_rows(measurements, targets=None, qserv=(QSERV,), not_run=None):
    """(workload, size, peer, peer median, then for each of the ``qserv`` systems side by side:
    its median, ratio, target verdicts) for every workload and size in the order first seen, one
    row per peer (a row with peer '—' when there is none). The ratio is qserv's time over the
    peer's (below 1: qserv is faster). ``not_run`` maps (size, system) to why a peer that ran
    the workload at other sizes did not at this one."""
    targets, not_run = targets or {}, not_run or {}
    order, by_key, systems_of = [], {}, {}
    for m in measurements:
        key = (m.workload, m.size)
        if key not in by_key:
            order.append(key)
            by_key[key] = {}
        by_key[key][m.system] = m
        systems_of.setdefault(m.workload, {})[m.system] = None
    rows = []
    for workload, size in order:
        found = by_key[(workload, size)]
        peers = [name for name in found if name not in qserv] or [None]
        missing = [name for name in systems_of[workload] if name not in found and (size, name) in not_run]
        for index, peer in enumerate(peers + missing):
            theirs = found.get(peer)
            row = [workload, format_size(size), peer or "—", _cell(theirs) if theirs else not_run.get((size, peer), "—")]
            for name in qserv:
                ours = found.get(name)
                row += [_cell(ours) if ours else "—",
                        format_ratio(ours.seconds, theirs.seconds) if ours and theirs else "—",
                        _verdicts(targets.get(workload, []), ours, theirs, peer, index == 0)]
            rows.append(tuple(row))
    return rows


def table_header(qserv=(QSERV,)):
    header = ["workload", "size", "peer", "peer median"]
    for name in qserv:
        header += [f"{name} median", f"ratio ({name} / peer)", f"target ({name})"]
    return header


def markdown_table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def series(measurements, workload):
    """{system: ([sizes], [seconds])} of one workload, sizes ascending."""
    found = {}
    for m in sorted((m for m in measurements if m.workload == workload), key=lambda m: m.size):
        sizes, seconds = found.setdefault(m.system, ([], []))
        sizes.append(m.size)
        seconds.append(m.seconds)
    return found


def plot_scaling(measurements, directory, title_of=None):
    """One log-log PNG per workload (median time vs director rows, one line per system) in
    ``directory``; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = []
    workloads = list(dict.fromkeys(m.workload for m in measurements))
    systems = list(dict.fromkeys(m.system for m in measurements))  # one colour per system in every plot
    for workload in workloads:
        lines = series(measurements, workload)
        figure, axes = pyplot.subplots(figsize=(6, 4))
        for system, (sizes, seconds) in lines.items():
            axes.plot(sizes, seconds, marker="o", label=system, color=f"C{systems.index(system) % 10}",
                      linewidth=2.5 if system.startswith(QSERV) else 1.5)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("director rows")
        axes.set_ylabel("p95 seconds" if "p95" in workload else "median seconds")
        axes.set_title((title_of or {}).get(workload, workload), fontsize=10)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        name = f"scaling_{slug(workload)}.png"
        figure.savefig(directory / name, dpi=100)
        pyplot.close(figure)
        names.append(name)
    return names
