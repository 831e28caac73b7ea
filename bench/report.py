#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/report.py CSV VMOUT MACHINE-LINE PLOTDIR

Write, from guest-bench.sh's results.csv (and env.txt, failures.txt,
notes.txt in OUTDIR, the VM's output directory):
  bench/results.md   every row, grouped by workload, and the targets
  bench/summary.md   the README's part: the best of each side per
                     workload and the targets, with the config that won
  PLOTDIR/nvme.dat, PLOTDIR/null_blk.dat   plot.gp's input: the 4 KiB
                     random reads at depth 256 (and psync at 1)

"Best" is chosen per side from every config that ran (both harnesses,
every mode), so no peer is held to a configuration it does worse in.
"""
import csv
import os
import sys

RIVALS = ("io_uring", "io_uring_cmd", "uring_cmd")
POLLED = ("hipri", "poll", "sqpoll+hipri", "sqpoll+poll")


def load(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("iops", "lat_mean_us", "lat_p99_us", "syscalls_per_io",
                  "cpu_us_per_io", "mib_s", "iops_min", "iops_max"):
            r[k] = float(r[k] or 0)
        r["iodepth"] = int(r["iodepth"])
    return rows


def label(r):
    path = {"uring_cmd": "io_uring_cmd"}.get(r["path"], r["path"])
    return "%s %s %s" % (r["harness"], path, r["mode"])


def side(r):
    if r["path"] == "blkbatch":
        return "blkbatch"
    if r["path"] in RIVALS:
        return "io_uring"
    return r["path"]


def pick(rows, **want):
    return [r for r in rows if all(r[k] == v for k, v in want.items())]


def best(rows, key, low=False):
    rows = [r for r in rows if r[key] > 0]
    if not rows:
        return None
    return (min if low else max)(rows, key=lambda r: r[key])


def spread(r):
    return 100 * (r["iops_max"] - r["iops_min"]) / r["iops"] if r["iops"] else 0


def fmt_iops(v):
    return "%.1fK" % (v / 1000) if v >= 10000 else "%.0f" % v


def ratio_cell(num, den, target, higher=True):
    if not num or not den:
        return "—", "not measured"
    x = num / den
    ok = x >= target if higher else x <= target
    return "%.2fx" % x, "met" if ok else "missed"


def targets(rows):
    """(target, where, blkbatch, rival, ratio, status) per target."""
    out = []
    # 1. CPU per I/O on null_blk at depth 256 and 4096, same harness.
    for harness in ("bench", "fio"):
        for op in ("randread", "randwrite"):
            for qd in (256, 4096):
                for polled in (False, True):
                    # fio's CPU is its job thread's alone (RUSAGE_THREAD):
                    # an SQPOLL thread's work would not count.
                    sel = [r for r in pick(rows, device="null_blk",
                                           workload="rand4k", op=op,
                                           iodepth=qd, harness=harness)
                           if (r["mode"] in POLLED) == polled and
                           not (harness == "fio" and "sqpoll" in r["mode"])]
                    bb = best([r for r in sel if side(r) == "blkbatch"],
                              "cpu_us_per_io", low=True)
                    iu = best([r for r in sel if side(r) == "io_uring"],
                              "cpu_us_per_io", low=True)
                    cell, st = ratio_cell(bb and bb["cpu_us_per_io"],
                                          iu and iu["cpu_us_per_io"], 0.7,
                                          higher=False)
                    out.append(("CPU/IO <= 0.7x",
                                "null_blk %s qd%d %s, %s" % (
                                    op, qd, "poll" if polled else "irq",
                                    harness),
                                bb and "%.2f µs (%s)" % (bb["cpu_us_per_io"], label(bb)),
                                iu and "%.2f µs (%s)" % (iu["cpu_us_per_io"], label(iu)),
                                cell, st))
    # 2. NVMe 4 KiB random read IOPS, any harness, any mode.
    for qd in (32, 256, 4096):
        sel = pick(rows, device="nvme", workload="rand4k", op="randread",
                   iodepth=qd)
        # Polled passthrough runs at the queue depth (1024) when asked
        # for more: it counts at the depth asked.
        sel += [r for r in pick(rows, device="nvme", workload="rand4k",
                                op="randread", iodepth=1024)
                if qd == 4096]
        bb = best([r for r in sel if side(r) == "blkbatch"], "iops")
        iu = best([r for r in sel if side(r) == "io_uring"], "iops")
        cell, st = ratio_cell(bb and bb["iops"], iu and iu["iops"], 1.2)
        out.append(("IOPS >= 1.2x", "NVMe randread qd%d" % qd,
                    bb and "%s (%s)" % (fmt_iops(bb["iops"]), label(bb)),
                    iu and "%s (%s)" % (fmt_iops(iu["iops"]), label(iu)),
                    cell, st))
    # 3. Group commit: commits/s, at equal or lower CPU per commit.
    for dev in ("null_blk", "nvme"):
        for rec in (64, 8):
            sel = pick(rows, device=dev, workload="commit%d" % rec)
            bb = best([r for r in sel if side(r) == "blkbatch"], "iops")
            iu = best([r for r in sel if side(r) == "io_uring"], "iops")
            cell, st = ratio_cell(bb and bb["iops"], iu and iu["iops"], 1.5)
            if st == "met" and bb["cpu_us_per_io"] > iu["cpu_us_per_io"]:
                st = "missed (CPU)"
            out.append(("commits/s >= 1.5x, CPU <=", "%s, %d records" % (dev, rec),
                        bb and "%.0f/s, %.0f µs CPU (%s)" % (
                            bb["iops"], bb["cpu_us_per_io"], bb["mode"]),
                        iu and "%.0f/s, %.0f µs CPU (%s)" % (
                            iu["iops"], iu["cpu_us_per_io"], iu["mode"]),
                        cell, st))
    # 4. 1 MiB writes against fio io_uring.
    for dev in ("nvme", "null_blk"):
        sel = pick(rows, device=dev, workload="seq1m")
        bb = best([r for r in sel if side(r) == "blkbatch"], "mib_s")
        iu = best(pick(sel, harness="fio", path="io_uring"), "mib_s")
        cell, st = ratio_cell(bb and bb["mib_s"], iu and iu["mib_s"], 0.95)
        out.append(("1 MiB MiB/s >= 0.95x", "%s seq write qd32" % dev,
                    bb and "%.0f MiB/s (%s)" % (bb["mib_s"], label(bb)),
                    iu and "%.0f MiB/s (%s)" % (iu["mib_s"], label(iu)),
                    cell, st))
    return out


def targets_md(rows):
    lines = ["| target | where | blkbatch, best | io_uring, best | ratio | status |",
             "|---|---|---|---|---:|---|"]
    for t in targets(rows):
        lines.append("| " + " | ".join(x or "—" for x in t) + " |")
    return lines


def best_md(rows):
    """Per device and workload, the best of each side."""
    lines = ["| device | workload | op | depth | psync | libaio | io_uring, best | blkbatch, best | blkbatch / io_uring |",
             "|---|---|---|---:|---:|---:|---|---|---:|"]
    keys = []
    for r in rows:
        k = (r["device"], r["workload"], r["op"], r["iodepth"])
        if r["path"] != "psync" and r["iodepth"] != 1024 and k not in keys:
            keys.append(k)
    for dev, w, op, qd in keys:
        sel = [r for r in rows if r["device"] == dev and r["workload"] == w
               and r["op"] == op and (r["iodepth"] in (qd, 1024) or
                                      r["path"] == "psync")]
        commit = op == "commit"
        key = "mib_s" if w.startswith("seq") else "iops"

        def show(r):
            if not r:
                return "—"
            v = ("%.0f MiB/s" % r["mib_s"] if key == "mib_s" else
                 "%.0f/s" % r["iops"] if commit else fmt_iops(r["iops"]))
            unit = "commit" if commit else "IO"
            return "%s, %.2f µs CPU/%s (%s)" % (v, r["cpu_us_per_io"], unit,
                                                 label(r))
        ps = best([r for r in sel if r["path"] == "psync"], key)
        la = best([r for r in sel if r["path"] == "libaio"], key)
        iu = best([r for r in sel if side(r) == "io_uring"], key)
        bb = best([r for r in sel if side(r) == "blkbatch"], key)
        ratio = "%.2fx" % (bb[key] / iu[key]) if bb and iu else "—"
        short = lambda r: r and (fmt_iops(r[key]) if key == "iops" and not commit
                                 else "%.0f" % r[key]) or "—"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            dev, w, op, qd if not commit else "%d records" % qd, short(ps),
            short(la), show(iu), show(bb), ratio))
    return lines


def all_md(rows):
    lines = []
    cols = ("device", "harness", "path", "mode", "iodepth", "op", "iops",
            "mib_s", "lat_mean_us", "lat_p99_us", "syscalls_per_io",
            "cpu_us_per_io")
    for w in dict.fromkeys(r["workload"] for r in rows):
        commit = w.startswith("commit")
        lines += ["", "### " + w, ""]
        head = list(cols) + ["spread %"]
        if commit:
            head = [{"iops": "commits/s", "iodepth": "records",
                     "mode": "form", "syscalls_per_io": "syscalls/commit",
                     "cpu_us_per_io": "cpu_us_per_commit",
                     "lat_mean_us": "commit lat mean µs",
                     "lat_p99_us": "commit lat p99 µs"}.get(c, c) for c in head]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for r in rows:
            if r["workload"] != w:
                continue
            vals = []
            for c in cols:
                v = r[c]
                vals.append("%.0f" % v if c in ("iops", "mib_s") else
                            "%g" % v if isinstance(v, float) else str(v))
            vals.append("%.0f" % spread(r))
            lines.append("| " + " | ".join(vals) + " |")
    return lines


def plot_dat(rows, dev):
    color = {"psync": 1, "libaio": 2, "io_uring": 3, "io_uring_cmd": 4,
             "uring_cmd": 4, "blkbatch": 5}
    out = []
    for r in pick(rows, device=dev, workload="rand4k", op="randread"):
        if r["iodepth"] in (1, 256):
            out.append('"%s" %.0f %.3f %d' % (label(r), r["iops"],
                                               r["cpu_us_per_io"],
                                               color.get(r["path"], 1)))
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def main():
    csv_path, vmout, machine, plotdir = sys.argv[1:5]
    rows = load(csv_path)
    here = os.path.dirname(os.path.abspath(__file__))
    env, fails, notes = (read(os.path.join(vmout, n)) for n in
                         ("env.txt", "failures.txt", "notes.txt"))
    reps = max([int(r["runs"] or 1) for r in rows] or [1])
    head = [machine, "",
            "Every row is the median of %d runs (the spread column: the "
            "IOPS range of those runs over the median); system calls "
            "counted by strace in one more, shorter run. What the columns "
            "and the configs mean: [README.md](README.md)." % reps]
    summary = ["Best of each side per workload (every harness and mode "
               "tried; CPU is the whole process's, SQPOLL threads "
               "included):", ""] + best_md(rows) + [
               "", "Targets of issue 11 (ratios from this one run):", ""] + \
        targets_md(rows)
    md = ["# blkbatch benchmark results", ""] + head
    if env:
        md += ["", "```", env, "```"]
    md += ["", "## Summary", ""] + summary
    md += ["", "![4 KiB random reads at depth 256: IOPS and CPU per I/O]"
           "(results.png)", "", "## Every config"] + all_md(rows)
    if fails:
        md += ["", "Failed configs (not in the tables):", ""] + \
            ["- " + l for l in fails.splitlines()]
    if notes:
        md += ["", "Runs stopped at the time limit (numbers from fewer "
               "I/Os):", ""] + ["- " + l for l in notes.splitlines()]
    with open(os.path.join(here, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(here, "summary.md"), "w") as f:
        f.write("\n".join([machine, ""] + summary) + "\n")
    for dev in ("nvme", "null_blk"):
        with open(os.path.join(plotdir, "%s.dat" % dev), "w") as f:
            f.write("\n".join(plot_dat(rows, dev)) + "\n")


if __name__ == "__main__":
    main()
