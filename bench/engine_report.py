"""The benchmark's table: one row per stage, ours against CasADi's, with the issue's target.

A row is a dict: stage, ours, theirs (formatted), ratio (ours/theirs), target (text), met
(True, False or None when the row has no target), plus ``ahead`` (ours faster/smaller).
"""

from __future__ import annotations

import numpy as np

GRADIENT_POINT = 1.5  # ours ≤ 1.5× CasADi's gradient at one point
BACKWARD = 0.2  # ours ≤ 0.2× CasADi's gradient build
COST_RATIO = 4.0  # cost(∇f)/cost(f)
LOAD_JSON, LOAD_PACKED = 2.0, 0.3  # s, the 10⁶-gate DAG
MEMORY_MB = 1500.0  # peak RSS of backward on 10⁶ gates
AGREEMENT = 1e-8  # max relative difference between the two gradients


def seconds(t: float | None) -> str:
    if t is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if t >= scale or unit == "µs":
            return f"{t / scale:.3g} {unit}"
    return ""


def times(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:.3f}×" if ratio < 1 else f"{ratio:.3g}×"


def count(n) -> str:
    return "—" if n is None else f"{n:,}"


def relative_difference(ours, theirs) -> float:
    a, b = np.asarray(ours, float), np.asarray(theirs, float)
    floor = 1e-8 * max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor), initial=0.0))


def _row(stage, ours=None, theirs=None, text=None, limit=None, absolute=None, note=""):
    """``limit``: target on ours/theirs; ``absolute``: target on ours itself."""
    ratio = ours / theirs if ours is not None and theirs else None
    met, target = None, ""
    if limit is not None and ratio is not None:
        met, target = ratio <= limit, f"≤ {limit:g}×"
    elif absolute is not None and ours is not None:
        met, target = ours <= absolute[0], absolute[1]
    fmt = text or seconds
    return {"stage": stage, "ours": fmt(ours) if ours is not None else "—",
            "theirs": fmt(theirs) if theirs is not None else "—",
            "ratio": ratio,
            "target": target, "met": met, "ahead": None if ratio is None else ratio < 1,
            "note": note}  # fmt: skip


def _memory_note(m: dict) -> str:
    if not m:
        return ""
    note = f"{m['rss_before']:,.0f} MB before the pass (interpreter + circuit)"
    note += f", Δ {m['delta']:,.0f} MB"
    if m.get("warm_up", 0) > 2:  # numba compiled (stale cache) in this child: LLVM's memory
        note += f"; the warm-up compiled ({m['warm_up']:.0f} s)"
    if not m.get("reset", True):
        note += "; high-water mark not reset: the peak may be loading's"
    return note


def rows(spec, ours: dict, theirs: dict, mem: dict) -> list[dict]:
    o, t = ours or {}, theirs or {}
    loads = spec.load_targets
    R = [
        _row(
            "engine warm-up: load compiled passes (tiny circuit)",
            o.get("warm_up"),
            note="numba's disk cache; minutes if the cache is stale (first run)",
        ),
        _row(
            "load JSON (parse + validate)",
            o.get("load_json"),
            absolute=(LOAD_JSON, f"≤ {LOAD_JSON:g} s") if loads else None,
            note=f"{o.get('json_bytes', 0) / 1e6:.1f} MB",
        ),
        _row(
            "load packed msgpack (parse + validate)",
            o.get("load_packed"),
            absolute=(LOAD_PACKED, f"≤ {LOAD_PACKED:g} s") if loads else None,
            note=f"{o.get('packed_bytes', 0) / 1e6:.1f} MB",
        ),
        _row("CasADi SX graph from our arrays (excluded)", None, t.get("graph_build")),
        _row(
            "backward, raw  vs gradient+Function build",
            o.get("backward_raw"),
            t.get("gradient_build"),
            limit=BACKWARD,
        ),
        _row(
            "backward + simplify  vs same",
            o.get("backward_simplified"),
            t.get("gradient_build"),
            limit=BACKWARD,
        ),
        _row(
            f"forward, raw, wrt the first {o.get('forward_inputs', '?')} input(s)", o.get("forward")
        ),  # fmt: skip
        _row(
            "∇ at 1 point, cold first call",
            o.get("eval_cold"),
            t.get("first_call"),
            note="ours: kernel load + tape lowering + run",
        ),
        _row("tape lowering of ∇ (warm process)", o.get("tape_lowering")),
        _row(
            "∇ at 1 point (median, warm)", o.get("eval_point"), t.get("call"), limit=GRADIENT_POINT
        ),
    ]
    best = min(("serial", "thread"), key=lambda m: t.get(f"batch_{m}", np.inf))
    R.append(_row(f"∇ per point, batch of {count(o.get('batch_points'))}", o.get("batch"),
                  t.get(f"batch_{best}"), limit=spec.batch_target,
                  note=f"CasADi map {best} (serial {seconds(t.get('batch_serial'))}, "
                       f"thread×2 {seconds(t.get('batch_thread'))})"))  # fmt: skip
    g = o.get("simplified") or o.get("raw") or {}
    raw = o.get("raw") or {}
    src = o.get("source") or {}
    R.append(
        _row(
            "∇ size: gates / CasADi instructions",
            g.get("size"),
            t.get("instructions_grad"),
            text=count,
            note=f"raw {count(raw.get('size'))} gates before simplification",
        )
    )
    R.append(_row("∇ size: wires", g.get("wires"), text=count,
                  note=f"raw {count(raw.get('wires'))} wires"))  # fmt: skip
    build = o.get("backward_simplified")
    R.append(
        _row(
            "circuit → first ∇ value (build + cold first call)",
            build + o["eval_cold"] if build and o.get("eval_cold") else None,
            t["gradient_build"] + t["first_call"] if t.get("gradient_build") else None,
            note="ours: differentiate + evaluate; CasADi: gradient + Function + call",
        )
    )
    cost = lambda a, b: a / b if a and b else None  # noqa: E731
    R.append(
        _row(
            "cost(∇f)/cost(f), time at 1 point",
            cost(o.get("eval_point"), o.get("eval_point_f")),
            cost(t.get("call"), t.get("call_f")),
            text=lambda x: f"{x:.2f}",
            absolute=(COST_RATIO, f"≤ {COST_RATIO:g}"),
        )
    )
    R.append(
        _row(
            "cost(∇f)/cost(f), time per point in batch",
            cost(o.get("batch"), o.get("batch_f")),
            text=lambda x: f"{x:.2f}",
        )
    )
    R.append(
        _row(
            "cost(∇f)/cost(f), size (gates / instructions)",
            cost(g.get("size"), src.get("size")),
            cost(t.get("instructions_grad"), t.get("instructions_f")),
            text=lambda x: f"{x:.2f}",
        )
    )
    if spec.before:
        R += _before_rows(spec.before, o, t)
    for kind, label in (("raw", "raw"), ("simplified", "+ simplify")):
        m = mem.get(kind) or {}
        R.append(_row(f"peak RSS, backward {label}", m.get("peak"),
                      text=lambda x: f"{x:,.0f} MB",
                      absolute=(MEMORY_MB, f"≤ {MEMORY_MB / 1000:g} GB")
                      if spec.memory_target else None,
                      note=m.get("error") or _memory_note(m)))  # fmt: skip
    if o.get("gradient") and t.get("gradient"):
        diff = relative_difference(o["gradient"], t["gradient"])
        batch_diff = lambda mode: (  # noqa: E731
            f"{relative_difference(o['batch_head'], t[f'batch_{mode}_head']):.1e}"
            if o.get("batch_head") and t.get(f"batch_{mode}_head")
            else "—"
        )
        R.append(
            _row(
                "check: max rel. difference of ∇ at x0",
                diff,
                text=lambda x: f"{x:.1e}",
                absolute=(AGREEMENT, f"≤ {AGREEMENT:g}"),
                note=f"f(x0): ours {o.get('value', np.nan):.17g}, "
                f"CasADi {t.get('value', np.nan):.17g}; ∇ at the batch's first points, max "
                f"rel. difference to CasADi's map serial / thread: {batch_diff('serial')} / "
                f"{batch_diff('thread')}",
            )
        )
    return R


def _before_rows(before: dict, o: dict, t: dict) -> list[dict]:
    """The same stages on an earlier engine (figures recorded there), beside CasADi's."""
    at = before["commit"]
    now = lambda key: o.get("raw", {}).get(key)  # noqa: E731
    return [
        _row(f"before ({at}): backward, raw  vs gradient build", before["backward_raw"],
             t.get("gradient_build"), note=f"now {seconds(o.get('backward_raw'))}"),
        _row(f"before ({at}): backward + simplify  vs same", before["backward_simplified"],
             t.get("gradient_build"), note=f"now {seconds(o.get('backward_simplified'))}"),
        _row(f"before ({at}): raw ∇ size: gates", before["raw_size"], text=count,
             note=f"now {count(now('size'))}"),
        _row(f"before ({at}): raw ∇ size: wires", before["raw_wires"], text=count,
             note=f"now {count(now('wires'))}"),
        _row(f"before ({at}): ∇ size: gates / wires after simplify", before["size"], text=count,
             note=f"{count(before['wires'])} wires"),
    ]  # fmt: skip


def print_table(title: str, R: list[dict]) -> None:
    head = ("stage", "ours", "CasADi", "ours/CasADi", "target", "met")
    body = [(r["stage"], r["ours"], r["theirs"],
             times(r["ratio"]), r["target"] or "—",
             {True: "yes", False: "NO", None: ""}[r["met"]]) for r in R]  # fmt: skip
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    print(f"\n## {title}")
    for line in [head, tuple("-" * w for w in widths), *body]:
        print("  ".join(s.ljust(w) for s, w in zip(line, widths, strict=True)).rstrip())
    for r in R:
        if r["note"]:
            print(f"   · {r['stage']}: {r['note']}")


def closing_note(results: dict) -> list[str]:
    """Every missed target and every compared stage where we are not ahead, with figures."""
    missed, behind = [], []
    for key, res in results.items():
        for r in res.get("rows", []):
            fig = f"{key}: {r['stage']}: ours {r['ours']}, CasADi {r['theirs']}"
            if r["ratio"] is not None:
                fig += f" ({times(r['ratio'])})"
            if r["met"] is False:
                missed.append(f"{fig}; target {r['target']}")
            elif r["ahead"] is False and "size" not in r["stage"] and "cost" not in r["stage"]:
                behind.append(fig)
    lines = ["Missed targets:"] + [f"  - {m}" for m in missed or ["none"]]
    lines += ["Not ahead of CasADi (no target missed):"] + [f"  - {b}" for b in behind or ["none"]]
    return lines
