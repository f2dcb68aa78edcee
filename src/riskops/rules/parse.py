"""YAML/JSON rule documents to the typed model, with every error named by its path.

All problems are collected, then raised at once (``rules[3].if.all[1]: unknown operator
'gtt'``), so an author fixes a file in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from riskops.events.flat import FLAT_FIELDS
from riskops.events.schemas import EVENT_TYPES
from riskops.rules.definition import (
    EARLIER_KINDS,
    UNITS_US,
    WINDOW_AGGS,
    Feature,
    Rule,
    column_kind,
)
from riskops.rules.parse_cond import CondParser
from riskops.rules.types import Action, RuleStatus

DETECTION_TYPOLOGIES = frozenset(
    [
        "account_takeover",
        "sim_swap",
        "credential_stuffing",
        "multi_accounting",
        "card_fraud",
        "scam_victim",
        "structuring",
        "pass_through",
        "mule",
        "sanctions_exposure",
        "synthetic_identity",
        "high_risk_geography",
        "behaviour_change",
    ]
)
# Due-diligence reviews (a case to work, not a suspicion); left out of detection precision.
REVIEW_TYPOLOGIES = frozenset(["kyc_review", "kyb_review"])
TYPOLOGIES = DETECTION_TYPOLOGIES | REVIEW_TYPOLOGIES
RULE_KEYS = set(
    [
        "id",
        "version",
        "status",
        "name",
        "description",
        "typology",
        "red_flag",
        "when",
        "features",
        "if",
        "action",
        "score",
        "reason",
    ]
)
REQUIRED = ("id", "version", "status", "typology", "when", "if", "action", "score")
_ID = re.compile(r"^[A-Z0-9-]+$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW_S = 90 * 86400
DOCUMENT_STATUSES = ("draft", "shadow", "live")


class RuleParseError(ValueError):
    """One or more problems in a rule document, each prefixed by its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(text: Any) -> int:
    """``30s``/``15m``/``1h``/``7d`` to seconds, within 1 s .. 90 d."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"bad duration {text!r}; write e.g. 30s, 15m, 1h, 7d")
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if not 1 <= seconds <= MAX_WINDOW_S:
        raise ValueError(f"window {text!r} is outside 1s..90d")
    return seconds


class _Parser(CondParser):
    def column(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        name = obj.get(key)
        if name not in FLAT_FIELDS:
            self.fail(f"{path}.{key}", f"unknown flat column {name!r}")
            return None
        return str(name)

    def feature(self, obj: Any, path: str) -> Feature | None:
        if not isinstance(obj, dict):
            self.fail(path, "a feature must be a mapping")
            return None
        before = len(self.problems)
        by = self.column({"by": obj.get("by", "account_id")}, "by", path) or "account_id"
        where = self.cond(obj["where"], f"{path}.where", None) if "where" in obj else None
        common = {"by", "where"}
        if "agg" in obj:
            agg = obj["agg"]
            allowed = common | {"agg", "window", "field"}
            if agg not in WINDOW_AGGS:
                self.fail(f"{path}.agg", f"unknown aggregate {agg!r}; one of {list(WINDOW_AGGS)}")
                return None
            try:
                window_s: int | None = parse_duration(obj.get("window"))
            except ValueError as exc:
                self.fail(f"{path}.window", str(exc))
                window_s = None
            field = None
            if agg != "count" or "field" in obj:
                field = self.column(obj, "field", path)
                kind = column_kind(field) if field else None
                if agg in ("sum", "avg") and kind not in (None, "int"):
                    self.fail(
                        f"{path}.field", f"{agg} needs an integer column, {field!r} is {kind}"
                    )
                if agg in ("max", "min") and kind not in (None, "int", "float"):
                    self.fail(f"{path}.field", f"{agg} needs a numeric column, {field!r} is {kind}")
                if agg == "count" and field is not None:
                    self.fail(f"{path}.field", "count takes no field (use where)")
            self.unknown_keys(obj, allowed, path)
            if len(self.problems) > before:
                return None
            return Feature(agg, by=by, field=field, window_s=window_s, where=where)
        kinds = [k for k in EARLIER_KINDS if k in obj]
        if len(kinds) != 1:
            self.fail(path, "a feature needs exactly one of agg, " + ", ".join(EARLIER_KINDS))
            return None
        kind_name = kinds[0]
        if kind_name == "since":
            self.unknown_keys(obj, common | {"since", "unit"}, path)
            if obj["since"] not in EVENT_TYPES:
                self.fail(f"{path}.since", f"unknown event type {obj['since']!r}")
            unit = obj.get("unit", "minutes")
            if unit not in UNITS_US:
                self.fail(f"{path}.unit", f"unknown unit {unit!r}; one of {list(UNITS_US)}")
            if len(self.problems) > before:
                return None
            return Feature("since", by=by, where=where, since_type=obj["since"], unit=unit)
        field = self.column(obj, kind_name, path)
        if kind_name == "baseline_ratio":
            self.unknown_keys(obj, common | {"baseline_ratio", "window", "min_count"}, path)
            if field and column_kind(field) != "int":
                self.fail(f"{path}.baseline_ratio", f"needs an integer column, not {field!r}")
            try:
                window_s = parse_duration(obj.get("window"))
            except ValueError as exc:
                self.fail(f"{path}.window", str(exc))
            min_count = obj.get("min_count", 1)
            if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
                self.fail(f"{path}.min_count", "expected an integer >= 1")
            if len(self.problems) > before:
                return None
            return Feature(
                "baseline_ratio",
                by=by,
                field=field,
                window_s=window_s,
                where=where,
                min_count=min_count,
            )
        self.unknown_keys(obj, common | {kind_name}, path)
        if len(self.problems) > before:
            return None
        return Feature(kind_name, by=by, field=field, where=where)

    def unknown_keys(self, obj: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.fail(path, f"unknown key {key!r}")

    # --- rules ------------------------------------------------------------------------
    def rule(self, obj: Any, path: str) -> Rule | None:
        if not isinstance(obj, dict):
            self.fail(path, "a rule must be a mapping")
            return None
        before = len(self.problems)
        missing = [key for key in REQUIRED if key not in obj]
        for key in missing:
            self.fail(path, f"missing required key {key!r}")
        self.unknown_keys(obj, RULE_KEYS, path)
        if missing:
            return None
        rid = obj["id"]
        if not isinstance(rid, str) or not _ID.match(rid):
            self.fail(f"{path}.id", "expected [A-Z0-9-]+")
        self.int_in(obj["version"], 1, None, f"{path}.version")
        self.int_in(obj["score"], 0, 100, f"{path}.score")
        if obj["status"] not in DOCUMENT_STATUSES:
            self.fail(f"{path}.status", f"unknown status {obj['status']!r}")
        if obj["typology"] not in TYPOLOGIES:
            self.fail(f"{path}.typology", f"unknown typology {obj['typology']!r}")
        if obj["action"] not in ("review", "hold", "block"):
            self.fail(f"{path}.action", "expected review, hold or block")
        when = obj["when"] if isinstance(obj["when"], list) else [obj["when"]]
        for i, t in enumerate(when):
            if t not in EVENT_TYPES:
                self.fail(f"{path}.when[{i}]", f"unknown event type {t!r}")
        raw_features = obj.get("features") or {}
        features: dict[str, Feature] = {}
        if not isinstance(raw_features, dict):
            self.fail(f"{path}.features", "expected a mapping of name -> feature")
            raw_features = {}
        self.broken_features = set()
        for name, body in raw_features.items():
            if (
                not isinstance(name, str)
                or not _NAME.match(name)
                or name in FLAT_FIELDS
                or name == "usd"
            ):
                self.fail(
                    f"{path}.features",
                    f"bad feature name {name!r} (lower_snake, not a flat column)",
                )
                continue
            feature = self.feature(body, f"{path}.features.{name}")
            if feature is not None:
                features[name] = feature
            else:
                self.broken_features.add(name)
        cond = self.cond(obj["if"], f"{path}.if", features)
        for key in ("name", "description", "red_flag", "reason"):
            if key in obj and not isinstance(obj[key], str):
                self.fail(f"{path}.{key}", "expected text")
        if len(self.problems) > before or cond is None:
            return None
        return Rule(
            id=rid,
            version=obj["version"],
            status=RuleStatus(obj["status"]),
            typology=obj["typology"],
            when=tuple(when),
            features=features,
            cond=cond,
            action=Action.parse(obj["action"]),
            score=obj["score"],
            name=obj.get("name", ""),
            description=obj.get("description", ""),
            red_flag=obj.get("red_flag", ""),
            reason=str(obj.get("reason", obj.get("name", rid))),
        )

    def int_in(self, value: Any, low: int, high: int | None, path: str) -> None:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            self.fail(path, f"expected an integer in {low}..{high if high is not None else ''}")


def parse_rules(source: str | bytes | list[dict[str, Any]]) -> list[Rule]:
    """Rules from YAML or JSON text, or from already-parsed mappings.

    Raises ``RuleParseError`` listing every problem with its path.
    """
    docs: Any = source
    if isinstance(source, str | bytes):
        try:
            docs = yaml.safe_load(source) if source.strip() else []
        except yaml.YAMLError as exc:
            raise RuleParseError([f"rules: not valid YAML/JSON: {exc}"]) from exc
    if isinstance(docs, dict) and "rules" in docs:
        docs = docs["rules"]
    if docs is None:
        docs = []
    if not isinstance(docs, list):
        raise RuleParseError(["rules: expected a list of rules"])
    parser = _Parser()
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        rule = parser.rule(doc, f"rules[{i}]")
        if rule is None:
            continue
        if rule.id in seen:
            parser.fail(f"rules[{i}].id", f"duplicate id {rule.id!r} (also rules[{seen[rule.id]}])")
        seen[rule.id] = i
        rules.append(rule)
    if parser.problems:
        raise RuleParseError(parser.problems)
    return rules


def load_rule_files(paths: Iterable[Path | str]) -> list[Rule]:
    """Rules from several YAML/JSON files, checked as one set (ids unique across files)."""
    docs: list[Any] = []
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        loaded = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if isinstance(loaded, dict) and "rules" in loaded:
            loaded = loaded["rules"]
        docs.extend(loaded or [])
    return parse_rules(docs)


def default_pack_documents() -> list[dict[str, Any]]:
    """The rule documents shipped in ``riskops/rules/pack/*.yaml``; [] when there are none."""
    try:
        pack = resources.files("riskops.rules").joinpath("pack")
        files = sorted(
            (f for f in pack.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name
        )
    except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError):
        return []
    docs: list[Any] = []
    for f in files:
        loaded = yaml.safe_load(f.read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and "rules" in loaded:
            loaded = loaded["rules"]
        docs.extend(loaded or [])
    return docs


def load_default_pack() -> list[Rule]:
    """The rule pack shipped in ``riskops/rules/pack/*.yaml``; [] when there is none."""
    return parse_rules(default_pack_documents())
