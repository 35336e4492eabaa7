"""The arrays the compiled dispatch reads, held in one numba structure.

A compiled call costs mostly the unboxing of its arguments: about 0.15 us for each array, so
that the twenty arrays of one dispatch moment cost four times the work they serve. The engine
puts them once per run, congestion period and set of posts into a :class:`DispatchTables`
(a numba ``StructRef``: one argument, unboxed as one pointer) and passes that to
:func:`sim.engine.positions.unit_offers`. The structure refers to the arrays, it does not copy
them: a value the engine writes into an array of unit state is what the next call reads.

Through numba's dispatcher the structure is no free lunch: typing it costs about 0.9 us a
call (a slower path than an array's), more than the kernel's own work. So the engine binds
:func:`~sim.engine.positions.unit_offers` once to each structure's type
(:func:`sim.network.kernels.compiled_for`) and calls that compiled version directly, which
only unboxes the pointer: 0.6 us a call instead of 1.6. The oracle's kernels, with four to
thirteen arrays, keep plain arguments and are bound the same way.

The type is defined here, apart from the compiled functions that take it, so that their
on-disk cache is found again (numba issue 9030). A structure is made by
:func:`sim.engine.positions.dispatch_tables`, itself compiled and cached; calling the proxy
class from Python would compile its constructor in every process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import types
from numba.experimental import structref

__all__ = ["FIELDS", "DispatchTables", "DispatchTablesType"]


@structref.register
class DispatchTablesType(types.StructRef):
    """The numba type of :class:`DispatchTables` (one per combination of array types)."""

    def preprocess_fields(self, fields: Any) -> tuple[tuple[str, types.Type], ...]:
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class DispatchTables(structref.StructRefProxy):
    """The Python face of one dispatch moment's arrays: opaque (only compiled code reads the
    fields, as annotated here)."""

    cand: np.ndarray
    blocked: np.ndarray
    trans_end: np.ndarray
    post_order: np.ndarray
    post_time: np.ndarray
    turnout: np.ndarray
    anchor: np.ndarray
    low: np.ndarray
    order: np.ndarray
    rows: np.ndarray
    row_of: np.ndarray
    flat_node: np.ndarray
    flat_cum: np.ndarray
    flat_starts: np.ndarray
    loop_base: np.ndarray
    cycle: np.ndarray
    loop_ptr: np.ndarray
    loop_units: np.ndarray
    top: np.ndarray
    out: np.ndarray
    transit: np.ndarray


FIELDS = tuple(DispatchTables.__annotations__)
"""The fields, in the order of :func:`sim.engine.positions.dispatch_tables`'s arguments; see
:func:`sim.engine.positions.unit_offers` for what each holds."""

structref.define_proxy(DispatchTables, DispatchTablesType, list(FIELDS))
