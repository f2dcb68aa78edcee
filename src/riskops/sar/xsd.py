"""The regulators' schemas: where they are (configurable, as each FIU issues its own),
loaded once per file, and validation that names each error's element."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from riskops.kernel.config import Settings
from riskops.kernel.errors import RiskopsError
from riskops.sar.models import ExportFormat

# The shared schemas beside the repository: <repo>/../shared/data/regulator-schemas.
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "regulator-schemas"
DEFAULT_FILES = {
    ExportFormat.GOAML: "goAMLSchema-5.0.2.xsd",
    ExportFormat.FINCEN: "EFL_SARXBatchSchema.xsd",
}
_SETTING = {ExportFormat.GOAML: "RISKOPS_GOAML_XSD", ExportFormat.FINCEN: "RISKOPS_FINCEN_XSD"}
MAX_ERRORS = 50  # reasons listed per export; the rest are counted


class SchemaMissing(RiskopsError):
    """The configured schema file is not there or is not a schema: nothing can be filed."""

    status_code = 503
    code = "schema_missing"


def path_for(fmt: ExportFormat, settings: Settings) -> Path:
    configured = settings.goaml_xsd if fmt is ExportFormat.GOAML else settings.fincen_xsd
    return Path(configured) if configured else SHARED / DEFAULT_FILES[fmt]


@cache
def _load(path: Path, mtime_ns: int) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def schema(fmt: ExportFormat, settings: Settings) -> etree.XMLSchema:
    """The format's schema, read once per file version."""
    path = path_for(fmt, settings)
    try:
        return _load(path, path.stat().st_mtime_ns)
    except OSError as exc:
        raise SchemaMissing(
            f"the {fmt.value} schema is missing at {path}: set {_SETTING[fmt]} to the FIU's XSD",
            details=[{"field": _SETTING[fmt], "reason": f"no readable file at {path}"}],
        ) from exc
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise SchemaMissing(
            f"the {fmt.value} schema at {path} is not a valid XSD: {exc}",
            details=[{"field": _SETTING[fmt], "reason": "not a valid XML schema"}],
        ) from exc


@dataclass(frozen=True, slots=True)
class Checked:
    content: bytes
    sha256: str
    errors: list[dict[str, str]]

    @property
    def valid(self) -> bool:
        return not self.errors


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate(root: etree._Element, fmt: ExportFormat, settings: Settings) -> Checked:
    """Serialise and validate ``root``; each schema error becomes a field-level reason
    (the element's path in the document and the validator's message)."""
    content = serialise(root)
    xsd = schema(fmt, settings)
    # Validate what is written, parsed back: the file sent is the file checked.
    document = etree.fromstring(content, parser=etree.XMLParser(huge_tree=True))
    xsd.validate(document)
    errors: list[dict[str, str]] = []
    log: list[Any] = list(xsd.error_log)  # type: ignore[call-overload]
    for entry in log:
        if len(errors) == MAX_ERRORS:
            errors.append({"field": "$", "reason": f"and {len(log) - MAX_ERRORS} more"})
            break
        errors.append({"field": entry.path or "$", "reason": f"line {entry.line}: {entry.message}"})
    return Checked(content, hashlib.sha256(content).hexdigest(), errors)
