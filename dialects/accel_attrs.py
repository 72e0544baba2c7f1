"""The attributes of the `accel` dialect: `#accel.target` and `#accel.mapping`, and the plain
Python values <-> attributes conversions the passes use (dialects/accel.py registers them).

    #accel.target<"tpu-like", {arch = "systolic", rows = 32, cols = 32, dataflow = "ws"}>
    #accel.mapping<ws, tiles {n = 1, g = 1, k = 8, c = 3}, order [g, k, c, n],
                   spatial {c = rows 3, k = cols 8}, double_buffer, directives "...">
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from simulator.program import DATAFLOWS

# --- plain Python values <-> attributes ---------------------------------------------------


def to_attr(value: Any) -> Attribute:
    """A JSON-like Python value as an attribute (bool, int, float, str, list, dict)."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, Mapping):
        return DictionaryAttr({str(k): to_attr(v) for k, v in value.items()})
    if isinstance(value, Sequence):
        return ArrayAttr([to_attr(v) for v in value])
    raise TypeError(f"cannot turn {value!r} into an attribute")


def from_attr(attr: Attribute) -> Any:
    """The inverse of `to_attr` (dense arrays become lists)."""
    if isinstance(attr, IntegerAttr):
        if isinstance(attr.type, IntegerType) and attr.type.width.data == 1:
            return bool(attr.value.data)
        return int(attr.value.data)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DictionaryAttr):
        return {k: from_attr(v) for k, v in attr.data.items()}
    if isinstance(attr, ArrayAttr):
        return [from_attr(v) for v in attr.data]
    if isinstance(attr, DenseArrayBase):
        return list(attr.get_values())
    raise TypeError(f"cannot turn attribute {attr} into a Python value")


def i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


# --- attributes ----------------------------------------------------------------------------


def _print_scalar(printer: Printer, value: Any) -> None:
    if isinstance(value, bool):
        printer.print_string("true" if value else "false")
    elif isinstance(value, int | float):
        printer.print_string(repr(value))
    else:
        printer.print_string_literal(str(value))


def _parse_scalar(parser: AttrParser) -> Any:
    """true / false, an integer, a float or a string literal."""
    flag = parser.parse_optional_boolean()
    if flag is not None:
        return flag
    text = parser.parse_optional_str_literal()
    if text is not None:
        return text
    negative = parser.parse_optional_punctuation("-") is not None
    number = parser.parse_number()
    return -number if negative else number


@irdl_attr_definition
class TargetAttr(ParametrizedAttribute):
    """The hardware the module is compiled for: its name and `simulator.Target` fields (those not
    given take the Target's defaults), verified against the Target schema: a field it does not
    know or a value of the wrong type is an error naming it.

        #accel.target<"tpu-like", {rows = 32, cols = 32, dataflow = "ws", ifmap_sram_kib = 256.0}>
    """

    name = "accel.target"

    target_name: StringAttr
    fields: DictionaryAttr

    def __init__(self, fields: DictionaryAttr | Mapping[str, Any], target_name: str | None = None):
        if isinstance(fields, DictionaryAttr):
            fields = {k: from_attr(v) for k, v in fields.data.items()}
        fields = dict(fields)
        label = str(fields.pop("name", target_name or "custom"))
        super().__init__(
            StringAttr(label), DictionaryAttr({k: to_attr(v) for k, v in fields.items()})
        )

    def verify(self) -> None:
        from simulator.target import TargetError, make_target

        try:
            make_target(self.as_dict())
        except TargetError as err:
            raise VerifyException(f'#accel.target<"{self.target_name.data}">: {err}') from None

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            label = parser.parse_str_literal()
            parser.parse_punctuation(",")
            fields: dict[str, Any] = {}

            def field() -> None:
                key = parser.parse_identifier()
                parser.parse_punctuation("=")
                fields[key] = _parse_scalar(parser)

            parser.parse_comma_separated_list(parser.Delimiter.BRACES, field)
        return (StringAttr(label), DictionaryAttr({k: to_attr(v) for k, v in fields.items()}))

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.target_name.data)
            printer.print_string(", {")
            for i, (key, value) in enumerate(self.fields.data.items()):
                printer.print_string(("" if i == 0 else ", ") + f"{key} = ")
                _print_scalar(printer, from_attr(value))
            printer.print_string("}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.target_name.data,
            **{k: from_attr(v) for k, v in self.fields.data.items()},
        }


MAPPING_SECTIONS = ("tiles", "order", "spatial", "double_buffer", "single_buffer", "directives")


@irdl_attr_definition
class MappingAttr(ParametrizedAttribute):
    """A layer's mapping (`simulator.workload.Mapping`): the dataflow, then the sections it has.

        #accel.mapping<ws, tiles {n = 1, g = 1, k = 8, c = 6}, order [g, k, c, n],
                       spatial {c = rows 8, k = cols 8}, double_buffer,
                       directives "TemporalMap(1,1) G; SpatialMap(1,1) K; ...">

    `tiles` (dim -> buffer tile), `order` (the tile loop order, outermost first), `spatial`
    (dim -> array axis and unroll factor), `double_buffer` or `single_buffer`. An `accel.tiled`
    op's mapping has only the dataflow and `spatial` (its body spells the rest). `directives`,
    the MAESTRO-style reading, is printed when tiles and order are complete; it is derived from
    them, so a parsed one must agree (edit the tiles, order or spatial unroll instead)."""

    name = "accel.mapping"

    dataflow: StringAttr
    tiles: DictionaryAttr
    order: ArrayAttr[StringAttr]
    spatial: DictionaryAttr
    buffering: StringAttr  # "double", "single", or "" (not said)

    def __init__(
        self,
        dataflow: str | StringAttr,
        tiles: Mapping[str, int] | None = None,
        order: Sequence[str] = (),
        spatial: Mapping[str, Sequence[Any]] | None = None,
        double_buffer: bool | None = None,
    ):
        if isinstance(dataflow, str):
            dataflow = StringAttr(dataflow)
        buffering = "" if double_buffer is None else ("double" if double_buffer else "single")
        super().__init__(
            dataflow,
            DictionaryAttr({str(d): IntegerAttr(int(t), i64) for d, t in (tiles or {}).items()}),
            ArrayAttr([StringAttr(str(d)) for d in order]),
            DictionaryAttr(
                {
                    str(d): ArrayAttr([StringAttr(str(a)), IntegerAttr(int(f), i64)])
                    for d, (a, f) in (spatial or {}).items()
                }
            ),
            StringAttr(buffering),
        )

    def verify(self) -> None:
        if self.dataflow.data not in DATAFLOWS:
            raise VerifyException(
                f"unknown dataflow '{self.dataflow.data}' (expected one of {', '.join(DATAFLOWS)})"
            )
        for d, t in self.tiles.data.items():
            if not isinstance(t, IntegerAttr) or t.value.data < 1:
                raise VerifyException(f"#accel.mapping: tile {d} must be an integer >= 1")
        names = [d.data for d in self.order.data]
        if len(set(names)) != len(names):
            raise VerifyException(f"#accel.mapping: order {' '.join(names)} repeats a dim")
        for d, v in self.spatial.data.items():
            ok = isinstance(v, ArrayAttr) and len(v.data) == 2
            if (
                not ok
                or not isinstance(v.data[0], StringAttr)
                or not isinstance(v.data[1], IntegerAttr)
            ):
                raise VerifyException(f"#accel.mapping: spatial {d} must be an axis and a factor")
            if v.data[1].value.data < 1:
                raise VerifyException(f"#accel.mapping: spatial unroll of {d} is below 1")
        if self.buffering.data not in ("", "double", "single"):
            raise VerifyException(f"#accel.mapping: buffering '{self.buffering.data}'")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingAttr:
        """From `Mapping.to_dict()` (or any subset of its keys but the dataflow)."""
        double = data.get("double_buffer")
        return cls(
            str(data["dataflow"]),
            tiles=data.get("tiles") or {},
            order=data.get("order") or (),
            spatial=data.get("spatial") or {},
            double_buffer=None if double is None else bool(double),
        )

    def as_dict(self) -> dict[str, Any]:
        """As `Mapping.to_dict()` writes it (tiles and order possibly empty; `double_buffer` only
        when said), + `directives` when complete."""
        data: dict[str, Any] = {
            "dataflow": self.dataflow.data,
            "tiles": {d: t.value.data for d, t in self.tiles.data.items()},
            "order": [d.data for d in self.order.data],
        }
        data["spatial"] = {
            d: [v.data[0].data, v.data[1].value.data] for d, v in self.spatial.data.items()
        }
        if self.buffering.data:
            data["double_buffer"] = self.buffering.data == "double"
        directives = self.directives()
        if directives:
            data["directives"] = directives
        return data

    def directives(self) -> str:
        """The MAESTRO-style reading (`Mapping.directives`), or "" when tiles or order are not
        all there (a tile-level mapping)."""
        tiles = {d: t.value.data for d, t in self.tiles.data.items()}
        order = [d.data for d in self.order.data]
        if not order or set(order) != set(tiles):
            return ""
        from simulator.workload import Mapping as PlainMapping

        spatial = {d: (v.data[0].data, v.data[1].value.data) for d, v in self.spatial.data.items()}
        return PlainMapping(self.dataflow.data, tiles, tuple(order), spatial).directives()

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            dataflow = parser.parse_identifier()
            tiles: dict[str, int] = {}
            order: list[str] = []
            spatial: dict[str, tuple[str, int]] = {}
            double: bool | None = None
            directives: str | None = None

            def tile() -> None:
                d = parser.parse_identifier()
                parser.parse_punctuation("=")
                tiles[d] = parser.parse_integer(allow_boolean=False, allow_negative=False)

            def unroll() -> None:
                d = parser.parse_identifier()
                parser.parse_punctuation("=")
                axis = parser.parse_identifier()
                spatial[d] = (axis, parser.parse_integer(allow_boolean=False, allow_negative=False))

            while parser.parse_optional_punctuation(",") is not None:
                section = parser.parse_identifier()
                if section == "tiles":
                    parser.parse_comma_separated_list(parser.Delimiter.BRACES, tile)
                elif section == "order":
                    order = parser.parse_comma_separated_list(
                        parser.Delimiter.SQUARE, parser.parse_identifier
                    )
                elif section == "spatial":
                    parser.parse_comma_separated_list(parser.Delimiter.BRACES, unroll)
                elif section in ("double_buffer", "single_buffer"):
                    double = section == "double_buffer"
                elif section == "directives":
                    directives = parser.parse_str_literal()
                else:
                    parser.raise_error(
                        f"unknown #accel.mapping section '{section}' "
                        f"(expected one of {', '.join(MAPPING_SECTIONS)})"
                    )
        attr = cls(dataflow, tiles, order, spatial, double)
        if directives is not None and directives != attr.directives():
            parser.raise_error(
                f'#accel.mapping directives "{directives}" do not read the mapping '
                f'("{attr.directives()}"): they are derived, edit tiles, order or spatial'
            )
        return attr.parameters

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string(self.dataflow.data)
            if self.tiles.data:
                body = ", ".join(f"{d} = {t.value.data}" for d, t in self.tiles.data.items())
                printer.print_string(f", tiles {{{body}}}")
            if self.order.data:
                printer.print_string(f", order [{', '.join(d.data for d in self.order.data)}]")
            if self.spatial.data:
                body = ", ".join(
                    f"{d} = {v.data[0].data} {v.data[1].value.data}"
                    for d, v in self.spatial.data.items()
                )
                printer.print_string(f", spatial {{{body}}}")
            if self.buffering.data:
                printer.print_string(f", {self.buffering.data}_buffer")
            directives = self.directives()
            if directives:
                printer.print_string(", directives ")
                printer.print_string_literal(directives)
