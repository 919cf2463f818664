"""Settings declared once.

An engine's settings are a frozen dataclass whose fields are made with `option()`: type,
default, limits, choices and help live there and nowhere else. The page form, the DRF
input serializer (and so the OpenAPI document), validation with messages that name the
field and its limit, storage as JSON, "Run again" and the settings table on a page all
derive from that declaration. Adding a setting touches the dataclass and its use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

Kind = Literal["int", "bool", "choice", "choices", "text"]
T = TypeVar("T")


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    default: Any
    help: str
    label: str
    group: str
    low: int | None = None
    high: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int = 200

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def limit_text(self) -> str:
        if self.kind == "int":
            off = " or null (off)" if self.default is None else ""
            return f"an integer from {self.low:,} to {self.high:,}{off}"
        if self.kind == "choice":
            return f"one of {', '.join(self.values)}"
        if self.kind == "choices":
            return f"a list of {', '.join(self.values)}"
        if self.kind == "bool":
            return "true or false"
        return f"text of at most {self.max_length} characters"

    def clean(self, value: Any) -> Any:
        """The value as stored, or ValueError with a message that names the limit."""
        bad = ValueError(f"{self.name} must be {self.limit_text()} (got {value!r:.80}).")
        if value is None and self.default is None:
            return None
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
            assert self.low is not None and self.high is not None
            if not self.low <= value <= self.high:
                raise bad
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind == "choice":
            if value not in self.values:
                raise bad
            return value
        if self.kind == "choices":
            if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
                raise bad
            if any(item not in self.values for item in value):
                raise bad
            return [v for v in self.values if v in value]  # declared order, no repeats
        if not isinstance(value, str) or len(value) > self.max_length or "\x00" in value:
            raise bad
        return value.strip()

    def display(self, value: Any) -> str:
        if value is None:
            return "off"
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "choices":
            return ", ".join(value) if value else "none"
        if self.kind == "int":
            return f"{value:,}"
        return str(value) if value != "" else "—"

    def form_field(self) -> forms.Field:
        common: dict[str, Any] = {"label": self.label, "help_text": self.help}
        if self.kind == "int":
            return forms.IntegerField(
                min_value=self.low,
                max_value=self.high,
                initial=self.default,
                required=False,  # left empty: the default (or off)
                **common,
            )
        if self.kind == "bool":
            return forms.BooleanField(required=False, initial=self.default, **common)
        if self.kind == "choice":
            return forms.ChoiceField(choices=self.choices, initial=self.default, **common)
        if self.kind == "choices":
            return forms.MultipleChoiceField(
                choices=self.choices,
                required=False,
                initial=list(self.default),
                widget=forms.CheckboxSelectMultiple,
                **common,
            )
        return forms.CharField(
            required=False, max_length=self.max_length, initial=self.default, **common
        )

    def serializer_field(self) -> serializers.Field:
        common: dict[str, Any] = {
            "required": False,
            "help_text": f"{self.help} Default: {self.default!r}.",
        }
        messages: dict[str, Any] = {"invalid": f"{self.name} must be {self.limit_text()}."}
        if self.kind == "int":
            assert self.low is not None and self.high is not None
            messages.update(min_value=messages["invalid"], max_value=messages["invalid"])
            return serializers.IntegerField(
                min_value=self.low,
                max_value=self.high,
                allow_null=self.default is None,
                error_messages=messages,
                **common,
            )
        if self.kind == "bool":
            return serializers.BooleanField(error_messages=messages, **common)
        if self.kind == "choice":
            messages["invalid_choice"] = messages["invalid"]
            return serializers.ChoiceField(self.choices, error_messages=messages, **common)
        if self.kind == "choices":
            messages.update(invalid_choice=messages["invalid"], not_a_list=messages["invalid"])
            return serializers.MultipleChoiceField(
                choices=self.choices, error_messages=messages, **common
            )
        return serializers.CharField(
            allow_blank=True, max_length=self.max_length, error_messages=messages, **common
        )


def option(
    default: Any,
    *,
    help: str,
    label: str = "",
    group: str = "generation",
    low: int | None = None,
    high: int | None = None,
    choices: Any = None,
    max_length: int = 200,
) -> Any:
    """A dataclass field declaring one setting. `choices`: a TextChoices class or pairs;
    a tuple default with choices makes a multiple choice."""
    pairs = tuple(choices.choices if hasattr(choices, "choices") else choices or ())
    kind: Kind
    if isinstance(default, bool):
        kind = "bool"
    elif isinstance(default, int) or (default is None and low is not None):
        kind = "int"  # None: off until set
    elif pairs and isinstance(default, tuple):
        kind = "choices"
    elif pairs:
        kind = "choice"
    else:
        kind = "text"
    meta = {
        "kind": kind,
        "help": help,
        "label": label,
        "group": group,
        "low": low,
        "high": high,
        "choices": tuple((str(v), str(text)) for v, text in pairs),
        "max_length": max_length,
    }
    return dataclasses.field(default=default, metadata={"option": meta})


def options_of(cls: type) -> Iterator[Option]:
    for f in dataclasses.fields(cls):
        meta = f.metadata["option"]
        label = meta["label"] or f.name.replace("_", " ").capitalize()
        yield Option(name=f.name, default=f.default, **{**meta, "label": label})


def settings_clean(cls: type[T], data: Mapping[str, Any]) -> T:
    """Settings from user input (missing ones take their defaults); ValidationError maps
    each bad field to a message naming its limit."""
    values, errors = {}, {}
    for opt in options_of(cls):
        if opt.name not in data or (data[opt.name] is None and opt.default is not None):
            continue
        value = data[opt.name]
        if opt.kind == "choices" and isinstance(value, set | frozenset):
            value = list(value)
        try:
            values[opt.name] = opt.clean(value)
        except ValueError as exc:
            errors[opt.name] = str(exc)
    if errors:
        raise ValidationError(errors)
    return settings_load(cls, values)


def settings_load(cls: type[T], stored: Mapping[str, Any]) -> T:
    """Settings as stored (JSON): unknown keys are ignored and missing ones take their
    defaults, so a run made before a setting existed still loads."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in names}
    return cls(**values)


def settings_dump(settings: Any) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()
    }


def settings_rows(settings: Any) -> list[tuple[str, str, str]]:
    """(group, label, value) for a page's settings table."""
    return [
        (opt.group, opt.label, opt.display(getattr(settings, opt.name)))
        for opt in options_of(type(settings))
    ]


def form_fields(cls: type) -> dict[str, forms.Field]:
    return {opt.name: opt.form_field() for opt in options_of(cls)}


def serializer_fields(cls: type) -> dict[str, serializers.Field]:
    return {opt.name: opt.serializer_field() for opt in options_of(cls)}


def output_fields(cls: type, *, source: str) -> dict[str, serializers.Field]:
    """Read-only fields for an output serializer; `source`: where the settings object is
    on the instance (e.g. "options")."""
    fields: dict[str, serializers.Field] = {}
    for opt in options_of(cls):
        common: dict[str, Any] = {"source": f"{source}.{opt.name}", "help_text": opt.help}
        if opt.kind == "choices":
            fields[opt.name] = serializers.ListField(child=serializers.CharField(), **common)
        elif opt.kind == "int":
            fields[opt.name] = serializers.IntegerField(allow_null=opt.default is None, **common)
        elif opt.kind == "bool":
            fields[opt.name] = serializers.BooleanField(**common)
        else:
            fields[opt.name] = serializers.CharField(**common)
        fields[opt.name].read_only = True
    return fields
