"""The ``history:`` section: how a city's call log maps onto the scenario (read by ``sim.history``).

Only the columns named here are ever read from a call log, so personal fields (names, phone
numbers, free text) never enter the results. The same content may live in a small YAML file of
its own (``--mapping FILE``) instead of the scenario.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["HistoryColumns", "HistorySpec"]

Column = str | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class HistoryColumns(_Model):
    """Column names in the call log. ``call_time`` and either ``lon``/``lat``, ``point`` or ``node``
    are required; the others are read when given. Times are timestamps (a time zone suffix is
    honoured); ``node`` is an OSM node id of the scenario's network."""

    call_time: str
    lon: Column = None
    lat: Column = None
    node: Column = None
    point: Column = None
    """A WKT point ``POINT (lon lat)`` (as open-data portals export geometry), instead of lon/lat."""
    type: Column = None
    priority: Column = None
    dispatch_time: Column = None
    """When the first unit was dispatched (assigned)."""
    arrival_time: Column = None
    """When the first unit arrived on scene."""
    clear_time: Column = None
    """When the first unit on scene cleared it."""
    unit: Column = None
    """The responding unit; ``<platform name>/...`` (as in the run records) names its post."""
    platform: Column = None
    """The responding unit's platform (post), by name, when the unit names no post."""
    @model_validator(mode="after")
    def _place(self) -> HistoryColumns:
        if self.node is None and self.point is None and (self.lon is None or self.lat is None):
            raise ValueError("map either 'lon' and 'lat', 'point' or 'node' to a column of the call log")
        return self


class HistorySpec(_Model):
    """How to read the call log: columns, time zone, type and priority names, and the layout that
    answered the calls (whose posts are where parked units start)."""

    columns: HistoryColumns
    timezone: str = "UTC"
    """Time zone of timestamps written without one, and of the run clock (hour of day, weekday)."""
    format: Literal["auto", "csv", "parquet"] = "auto"
    time_format: str | None = None
    """A strptime format for the timestamps (default: ISO 8601 and the usual variants)."""
    types: dict[str, str] = Field(default_factory=dict)
    """Log value -> scenario incident type name (values equal to a type name need no entry)."""
    priorities: dict[str, Literal["urgent", "standard", "minor"]] = Field(default_factory=dict)
    """Log value -> priority, for logs with a priority but no type (each call then gets the most
    common scenario type of its priority)."""
    layout: str | None = None
    """The layout that answered the calls (default: the scenario's baseline)."""
    unit_type: str | None = None
    """The unit type of the responding units, for travel calibration (default: the first
    dispatchable type of the layout)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{v}'; write an IANA name such as "
                             "'Asia/Shanghai' or 'America/Los_Angeles'") from None
        return v
