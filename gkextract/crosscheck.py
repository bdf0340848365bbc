"""Which table cells a narrative figure must agree with.

The narrative repeats numbers its own tables hold: applications received,
carried over, handled and carried forward, 予以公开 and 部分公开, 规章 and
规范性文件, 行政许可/处罚/强制 decisions, fees, review and litigation cases.
For each such fact this module names the cell(s) and the values that count
as agreement.  A blank cell counts as 0, as in the checks.  When a cell the
fact needs is misaligned, missing or unreadable the reference says
*unavailable* with the reason — never silence.
"""

from __future__ import annotations

from dataclasses import dataclass

Cells = dict[tuple[str, str, str], tuple[float | None, str]]   # (table, row, col) -> (value, status)


@dataclass(frozen=True)
class TableRef:
    ref: str                        # the cell(s), e.g. "applications.new_received.total"
    accepted: tuple[float, ...]     # values that agree with the table; empty when unavailable
    unavailable: str | None = None  # why the table cannot say


_A = "applications"
_APPLICATIONS: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    # metric: readings, each a sum of cells; "收到N件" may count the carried-over ones too
    "received": (((_A, "new_received", "total"),), ((_A, "new_received", "total"), (_A, "carried_over", "total"))),
    "carried_in": (((_A, "carried_over", "total"),),),
    "handled": (((_A, "total_handled", "total"),),),
    "carried_forward": (((_A, "carried_forward", "total"),),),
    "disclosed": (((_A, "disclosed", "total"),),),
    "partially_disclosed": (((_A, "partially_disclosed", "total"),),),
    "review_cases": ((("review_litigation", "administrative_review", "total"),),),
    "litigation_cases": ((("review_litigation", "litigation_direct", "total"),
                          ("review_litigation", "litigation_after_review", "total")),),
}
_P = "proactive"
_ADMINISTRATIVE: dict[str, dict[str, tuple[tuple[tuple[str, ...], ...], ...]]] = {
    "2021": {
        "rules_issued": (((_P, "rules", "issued"),),),
        "normative_issued": (((_P, "normative_documents", "issued"),),),
        "normative_repealed": (((_P, "normative_documents", "repealed"),),),
        "normative_in_force": (((_P, "normative_documents", "in_force"),),),
        "licensing_decisions": (((_P, "administrative_licensing", "decisions"),),),
        "penalty_decisions": (((_P, "administrative_penalty", "decisions"),),),
        "enforcement_decisions": (((_P, "administrative_enforcement", "decisions"),),),
        "fees": (((_P, "administrative_fees", "fee_amount"),),),
    },
    "2019": {
        "rules_issued": (((_P, "rules", "new_made"),), ((_P, "rules", "new_published"),)),
        "normative_issued": (((_P, "normative_documents", "new_made"),),
                             ((_P, "normative_documents", "new_published"),)),
        "normative_in_force": (((_P, "normative_documents", "total_published"),),),
        "licensing_decisions": (((_P, "administrative_licensing", "decisions"),),),
        "penalty_decisions": (((_P, "administrative_penalty", "decisions"),),),
        "enforcement_decisions": (((_P, "administrative_enforcement", "decisions"),),),
    },
}
_MONEY_TO_WANYUAN = {"万元": 1.0, "元": 1e-4, "亿元": 1e4}


def table_reference(kind: str, metric: str | None, label: str | None, template: str | None,
                    cells: Cells) -> TableRef | None:
    """The table cells a fact must agree with; None when no table holds the figure."""
    readings: tuple[tuple[tuple[str, ...], ...], ...] | None = None
    if kind == "application":
        readings = _APPLICATIONS.get(metric or "")
    elif kind == "administrative":
        readings = _ADMINISTRATIVE.get(template or "", {}).get(metric or "")
    elif kind == "disclosure" and label and "规范性文件" in label:
        # "公开规范性文件N件" may be made, published or in force: any of them agrees
        readings = tuple(((t, r, c),) for (t, r, c) in sorted(cells) if t == _P and r == "normative_documents")
    if not readings:
        return None
    ref = " | ".join("+".join(".".join(k) for k in reading) for reading in readings)
    accepted: list[float] = []
    for reading in readings:
        total = 0.0
        for key in reading:
            value, status = cells.get(key, (None, "missing"))
            if value is None and status not in ("empty", "not_applicable"):
                return TableRef(ref, (), f"{'.'.join(key)} is {status}")
            total += value or 0.0
        accepted.append(total)
    return TableRef(ref, tuple(accepted))


def in_table_unit(value: float, unit: str | None, kind: str, metric: str | None) -> float:
    """A narrative amount in the table's unit: fees are tabled in 万元."""
    if kind == "administrative" and metric == "fees" and unit in _MONEY_TO_WANYUAN:
        return value * _MONEY_TO_WANYUAN[unit]
    return value
