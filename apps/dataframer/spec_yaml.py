"""A Dataframer spec as YAML (root `spec:`, read-only `metadata:`), and what its editable
part means for the Seedbed spec version that runs use.

    spec:
      description: ...
      requirements: "one requirement a line"
      data_property_variations:
        - axis_name: tone
          axis_description: ...
          possible_values: [formal, casual]
          probabilities: {formal: 0.7, casual: 0.3}   # only with generate_distributions
    metadata: {...}

Axes have no field of their own in a Seedbed spec: they become the version's instruction
(the prompt asks each sample to take one value of every axis, in the given mix).
"""

from dataclasses import dataclass, field
from typing import Any

import yaml

from apps.core.inputs import InputError, check_storable

from .errors import bad_request

MAX_YAML_BYTES = 200_000
MAX_DEPTH = 8
MAX_AXES = 30
MAX_VALUES = 50
MAX_REQUIREMENTS = 50
EDITABLE = (
    "description",
    "requirements",
    "data_property_variations",
    "selected_sql_schema_column",
    "selected_sql_query_columns",
)


@dataclass(frozen=True)
class Axis:
    name: str
    description: str
    values: tuple[str, ...]
    probabilities: dict[str, float] = field(default_factory=dict)

    def as_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "axis_name": self.name,
            "axis_description": self.description,
            "possible_values": list(self.values),
        }
        if self.probabilities:
            data["probabilities"] = dict(self.probabilities)
        return data

    def instruction(self) -> str:
        if self.probabilities:
            mix = ", ".join(f"{v} ({self.probabilities.get(v, 0):.0%})" for v in self.values)
        else:
            mix = ", ".join(self.values)
        about = f" ({self.description})" if self.description else ""
        return f"- {self.name}{about}: {mix}"


@dataclass(frozen=True)
class SpecBody:
    description: str
    requirements: tuple[str, ...]
    axes: tuple[Axis, ...]

    def instruction(self) -> str:
        if not self.axes:
            return ""
        lines = "\n".join(axis.instruction() for axis in self.axes)
        return (
            "Vary the samples along these axes: give every sample one value of each axis, "
            f"spreading the values across samples in the mix shown.\n{lines}"
        )

    def dump(self, metadata: dict[str, Any]) -> str:
        spec = {
            "description": self.description,
            "requirements": "\n".join(self.requirements),
            "data_property_variations": [axis.as_yaml() for axis in self.axes],
        }
        return yaml.dump(
            {"spec": spec, "metadata": metadata},
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
        )


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader without aliases: `*name` can make a small text stand for an
    exponentially large tree (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not accepted")
        return super().compose_node(parent, index)


class _Dumper(yaml.SafeDumper):
    pass


def _text_block(dumper: yaml.SafeDumper, text: str) -> Any:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text_block)


def _depth(value: Any, depth: int = 1) -> int:
    if isinstance(value, dict):
        return max((_depth(v, depth + 1) for v in value.values()), default=depth)
    if isinstance(value, list):
        return max((_depth(v, depth + 1) for v in value), default=depth)
    return depth


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(line.strip(" -\t") for line in value.splitlines() if line.strip(" -\t"))
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    raise bad_request("content_yaml", f"{where} must be text or a list of strings.")


def _axis(raw: Any, number: int) -> Axis:
    where = f"spec.data_property_variations[{number}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("axis_name"), str):
        raise bad_request("content_yaml", f"{where} needs an axis_name (text).")
    values = _texts(raw.get("possible_values"), f"{where}.possible_values")
    if not values or len(values) > MAX_VALUES:
        raise bad_request("content_yaml", f"{where}: 1 to {MAX_VALUES} possible_values.")
    raw_probabilities = raw.get("probabilities") or {}
    if not isinstance(raw_probabilities, dict):
        raise bad_request("content_yaml", f"{where}.probabilities must map values to numbers.")
    probabilities = {}
    for value, p in raw_probabilities.items():
        if str(value) in values and isinstance(p, int | float) and 0 <= p <= 1:
            probabilities[str(value)] = float(p)
    description = raw.get("axis_description") or ""
    if not isinstance(description, str):
        raise bad_request("content_yaml", f"{where}.axis_description must be text.")
    return Axis(raw["axis_name"].strip(), description.strip(), values, probabilities)


def parse(content_yaml: Any) -> SpecBody:
    """The editable part of a spec's YAML; 400 naming `content_yaml` when it is not one."""
    if not isinstance(content_yaml, str) or not content_yaml.strip():
        raise bad_request("content_yaml", "Give the spec as YAML text with a 'spec:' root.")
    if len(content_yaml.encode()) > MAX_YAML_BYTES:
        raise bad_request("content_yaml", f"At most {MAX_YAML_BYTES // 1000} kB of YAML.")
    try:
        data = yaml.load(content_yaml, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, RecursionError) as exc:
        raise bad_request("content_yaml", f"Not valid YAML: {exc}"[:500]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        raise bad_request("content_yaml", "The YAML needs a 'spec:' mapping at its root.")
    if _depth(data) > MAX_DEPTH:
        raise bad_request("content_yaml", f"The YAML nests deeper than {MAX_DEPTH} levels.")
    spec = data["spec"]
    unknown = sorted(str(k) for k in spec if k not in EDITABLE)
    if unknown:
        raise bad_request(
            "content_yaml",
            f"Unknown keys under spec: {', '.join(unknown)}; editable: " + ", ".join(EDITABLE),
        )
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise bad_request("content_yaml", "spec.description must be text.")
    requirements = _texts(spec.get("requirements"), "spec.requirements")
    if len(requirements) > MAX_REQUIREMENTS:
        raise bad_request("content_yaml", f"At most {MAX_REQUIREMENTS} requirements.")
    raw_axes = spec.get("data_property_variations") or []
    if not isinstance(raw_axes, list) or len(raw_axes) > MAX_AXES:
        raise bad_request(
            "content_yaml", f"spec.data_property_variations: a list of at most {MAX_AXES} axes."
        )
    body = SpecBody(
        description.strip(),
        requirements,
        tuple(_axis(raw, n) for n, raw in enumerate(raw_axes)),
    )
    try:
        check_storable(body.dump({}), "content_yaml")
    except InputError as exc:
        raise bad_request("content_yaml", exc.message) from exc
    return body
