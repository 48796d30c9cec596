"""The run configuration (``config.yaml``) and the JSON-schema machinery shared with the sheets.

The schemas live in ``workflow/schemas/`` (found through :func:`unlock_atlas.paths.schemas_dir`)
and are Draft 2020-12. Validation collects *every* error (``iter_errors``) and turns each into a
:class:`~unlock_atlas.errors.Problem` naming the file, the line (the YAML line of the key, or
the sheet line of the row) and the key/column, with a fix taken from the schema's ``x-fix``
keyword (or its ``description``).

Path rules (design.md §2): ``{data_dir}`` in a path is replaced by the resolved shared data
directory; relative paths resolve against the RUN DIRECTORY (the ``workdir`` of
:func:`unlock_atlas.inputs.load_run`), never against the config file's directory.
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ..errors import DataNotFoundError, InputError, Problem
from ..paths import resolve_data_dir, schemas_dir

logger = logging.getLogger(__name__)

PLACEHOLDER = "{data_dir}"

#: Config keys holding a path (or, for ``panel_of_normals``, a list of paths).
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("patients",), ("samples",), ("treatments",), ("data_dir",),
    ("reference", "fasta"), ("reference", "gtf"), ("reference", "panel_bed"), ("reference", "panel_extra_bed"),
    ("panel_of_normals",), ("privacy", "key_file"),
)

_TYPE_WORDS = {
    "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "string": "a text value", "array": "a list", "object": "a mapping (key: value)", "null": "empty (null)",
}


# --------------------------------------------------------------------------- schemas


@cache
def load_schema(name: str) -> dict:
    """Load ``workflow/schemas/<name>.schema.yaml`` (``config``, ``patients`` or ``samples``)."""
    path = schemas_dir() / f"{name}.schema.yaml"
    with open(path, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def schema_validator(name: str) -> Draft202012Validator:
    """A Draft 2020-12 validator for a packaged schema, with format checking (``date``) on."""
    return Draft202012Validator(load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def fill_defaults(schema: Mapping, instance: Any) -> Any:
    """Fill the schema's ``default`` values into ``instance`` (a copy), recursively.

    A key that is absent -- or null where the schema wants a mapping, as YAML gives for a bare
    ``qc:`` -- takes its default; nested mappings are then filled in turn, so an empty ``qc: {}``
    becomes the full set of QC thresholds.
    """
    if not isinstance(instance, dict):
        return instance
    out = dict(instance)
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        wants_object = sub.get("type") == "object"
        if "default" in sub and (key not in out or (out[key] is None and wants_object)):
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict):
            out[key] = fill_defaults(sub, out[key])
    return out


def subschema_at(schema: Mapping, path: Iterable[Any]) -> Mapping:
    """The schema of the value at ``path`` (following ``properties`` / ``items``), or ``{}``."""
    node: Any = schema
    for part in path:
        if not isinstance(node, Mapping):
            return {}
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = (node.get("properties") or {}).get(part, {})
    return node if isinstance(node, Mapping) else {}


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def _generic_message(err: ValidationError) -> str:
    v = err.validator_value
    if err.validator == "type":
        types = v if isinstance(v, list) else [v]
        return "is not " + " or ".join(_TYPE_WORDS.get(t, t) for t in types)
    if err.validator == "enum":
        return "is not one of: " + ", ".join(str(x) for x in v)
    if err.validator == "const":
        return f"is not supported (only {v})"
    if err.validator == "pattern":
        return "is not in the expected form"
    if err.validator == "minimum":
        return f"is below the minimum {v}"
    if err.validator == "exclusiveMinimum":
        return f"must be greater than {v}"
    if err.validator == "maximum":
        return f"is above the maximum {v}"
    if err.validator == "exclusiveMaximum":
        return f"must be less than {v}"
    if err.validator == "minLength":
        return "is empty"
    if err.validator == "maxLength":
        return f"is longer than {v} characters"
    if err.validator == "minItems":
        return "is an empty list"
    if err.validator == "uniqueItems":
        return "has repeated entries"
    if err.validator == "format":
        return f"is not a valid {v}"
    return err.message


def translate_error(
    err: ValidationError,
    schema: Mapping,
    *,
    file: str,
    row: int | None = None,
    raw: Mapping[str, str] | None = None,
    line_of: Mapping[tuple, int] | None = None,
) -> list[Problem]:
    """Turn one jsonschema error into Problems (one per missing or unknown key).

    Parameters
    ----------
    err
        The error from ``iter_errors``.
    schema
        The root schema (for the property's ``description`` / ``x-fix`` / ``x-message``).
    file
        File name shown to the user.
    row
        The sheet line of the row (sheets); ``None`` for the config, whose lines come from
        ``line_of`` (YAML key path → line).
    raw
        The row's cells as written (sheets), so messages quote what the user typed.
    """
    path = list(err.absolute_path)
    lines = line_of or {}

    def where(p: list[Any]) -> int | None:
        if row is not None:
            return row
        for k in range(len(p), 0, -1):
            if tuple(p[:k]) in lines:
                return lines[tuple(p[:k])]
        return None

    sub = err.schema if isinstance(err.schema, Mapping) else {}
    if "x-column" in sub:  # a row-level rule of the schema with its own message (allOf/if/then)
        return [Problem(file, sub["x-message"], sub.get("x-fix", ""), row=where(path), column=sub["x-column"])]
    if err.validator == "required":
        out = []
        for key in (k for k in err.validator_value if k not in err.instance):
            prop = subschema_at(schema, path + [key])
            what = "is empty but required" if row is not None else "is required but missing"
            fix = prop.get("x-fix") or f"give {prop.get('description', key)}"
            out.append(Problem(file, f"{_dotted(path + [key])} {what}", fix, row=where(path), column=_dotted(path + [key])))
        return out
    if err.validator == "additionalProperties":
        known = list(subschema_at(schema, path).get("properties") or {})
        out = []
        for key in (k for k in err.instance if k not in known):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            out.append(Problem(file, f"unknown key '{_dotted(path + [key])}'",
                               f"{hint}known keys here: {', '.join(known)}",
                               row=where(path + [key]), column=_dotted(path + [key])))
        return out
    prop = subschema_at(schema, path) if path else schema
    column = _dotted(path) if path else None
    value = raw.get(str(path[0])) if (raw is not None and path) else err.instance
    text = prop.get("x-message") or _generic_message(err)
    desc = prop.get("description")
    fix = prop.get("x-fix") or (f"expected {desc}" if desc else "")
    return [Problem(file, f"{value!r} {text}" if path else text, fix, row=where(path), column=column)]


def schema_problems(
    validator: Draft202012Validator,
    instance: Any,
    *,
    file: str,
    row: int | None = None,
    raw: Mapping[str, str] | None = None,
    line_of: Mapping[tuple, int] | None = None,
) -> list[Problem]:
    """Every error of ``instance`` against ``validator``'s schema, as Problems (deduplicated)."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: ([str(p) for p in e.absolute_path], str(e.validator)))
    out: list[Problem] = []
    for err in errors:
        for p in translate_error(err, validator.schema, file=file, row=row, raw=raw, line_of=line_of):
            if p not in out:
                out.append(p)
    return out


# --------------------------------------------------------------------------- config.yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader reading ``1e-6`` as a number (YAML 1.2 and JSON do; PyYAML's YAML 1.1 rules need a
    dot and a signed exponent, so ``1e-6`` - and ``json.dumps(1e-6)`` in run_config.json - would be a
    string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_config(config: str | os.PathLike | Mapping, workdir: Path) -> tuple[dict, Path | None, str, dict]:
    """Read the config from a YAML file or take a mapping (Snakemake's ``config``).

    A relative config path is looked up in the current directory first (as any command-line
    path), then in the run directory.

    Returns
    -------
    tuple
        ``(config dict, config path or None, name shown in messages, YAML key path → line)``.
    """
    if isinstance(config, Mapping):
        return copy.deepcopy(dict(config)), None, "config", {}
    given = Path(config).expanduser()
    path = given if given.is_absolute() or given.is_file() else workdir / given
    shown = str(config)
    if not path.is_file():
        looked = sorted({str(given.absolute()), str((workdir / given).absolute())})
        raise InputError(Problem(shown, f"the config file does not exist (looked at {' and '.join(looked)})",
                                 "give the path of config.yaml, e.g. --config config/config.yaml"))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(Problem(shown, f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8")) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        lines = _yaml_lines(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(Problem(shown, f"not valid YAML: {exc.problem or exc.context}",
                                 "fix the YAML syntax (indentation, ':' after keys, quotes)",
                                 row=mark.line + 1 if mark else None)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(Problem(shown, f"the config must be a mapping of keys, found {type(data).__name__}",
                                 "write `key: value` lines (see config/config.yaml of the demo)"))
    return data, path.absolute(), shown, lines


def _yaml_lines(text: str) -> dict[tuple, int]:
    """Map every key path of a YAML mapping (``('reference', 'fasta')``) to its 1-based line."""
    out: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, k.value)
                out[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                out[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return out


def validate_config(cfg: dict, *, file: str, line_of: Mapping[tuple, int]) -> tuple[dict, list[Problem]]:
    """Fill defaults and validate against ``config.schema.yaml``; warn about unknown top-level keys."""
    schema = load_schema("config")
    filled = fill_defaults(schema, cfg)
    problems = schema_problems(schema_validator("config"), filled, file=file, line_of=line_of)
    unknown = [k for k in filled if k not in schema["properties"]]
    if unknown:
        logger.warning("%s: keys not used by the core pipeline (typo?): %s", file, ", ".join(map(str, unknown)))
    return filled, problems


def _get(cfg: Mapping, key: tuple[str, ...]) -> Any:
    node: Any = cfg
    for k in key:
        if not isinstance(node, Mapping):
            return None
        node = node.get(k)
    return node


def _set(cfg: dict, key: tuple[str, ...], value: Any) -> None:
    node = cfg
    for k in key[:-1]:
        node = node[k]
    node[key[-1]] = value


def resolve_config_paths(
    cfg: dict, workdir: Path, *, file: str, line_of: Mapping[tuple, int]
) -> tuple[dict, Path | None, list[Problem]]:
    """Substitute ``{data_dir}`` and make every path absolute against the run directory.

    The shared data directory is resolved only when some path uses ``{data_dir}`` (a site
    with its own reference does not need it); when it is needed and not found, the problem
    names every place looked at. Paths that still hold a placeholder after a failure stay as
    they are (the caller skips their file checks, so one missing data directory is one problem).

    Returns
    -------
    tuple
        ``(config with absolute path strings, data directory or None, problems)``.
    """
    cfg = copy.deepcopy(cfg)
    problems: list[Problem] = []
    values = [(k, _get(cfg, k)) for k in PATH_KEYS]
    uses = any(PLACEHOLDER in v for _, val in values for v in ([val] if isinstance(val, str) else val or [])
               if isinstance(v, str))
    data_dir: Path | None = None
    configured = cfg.get("data_dir") if isinstance(cfg.get("data_dir"), str) else None
    if uses:
        try:
            data_dir = resolve_data_dir(configured, base=workdir)
        except DataNotFoundError as exc:
            # (an explicit data_dir that is wrong is an error there, never a silent fallback)
            problems.append(Problem(file, str(exc), "", row=line_of.get(("data_dir",)), column="data_dir"))

    def resolve(value: str, key: tuple) -> str:
        if data_dir is not None:
            value = value.replace(PLACEHOLDER, str(data_dir))
        rest = value.replace(PLACEHOLDER, "")
        if "{" in rest or "}" in rest:
            problems.append(Problem(file, f"{value!r} holds a placeholder other than {PLACEHOLDER}",
                                    f"the only placeholder is {PLACEHOLDER}", row=line_of.get(key), column=_dotted(key)))
            return value
        if PLACEHOLDER in value:
            return value
        return _absolute(value, workdir)

    for key, val in values:
        if isinstance(val, str) and key != ("data_dir",):
            _set(cfg, key, resolve(val, key))
        elif isinstance(val, list):
            _set(cfg, key, [resolve(v, (*key, i)) if isinstance(v, str) else v for i, v in enumerate(val)])
    if data_dir is not None:
        cfg["data_dir"] = str(data_dir)
    elif configured:
        cfg["data_dir"] = _absolute(configured, workdir)
    return cfg, data_dir, problems


def _absolute(value: str, workdir: Path) -> str:
    """``value`` as an absolute, normalised path; relative paths resolve against ``workdir``."""
    p = Path(value).expanduser()
    return os.path.abspath(p if p.is_absolute() else workdir / p)
