"""Deterministic synthetic street network modelled on central Shaoyang (邵阳), Hunan.

The generator writes a standard OpenStreetMap XML file (``<osm version="0.6">`` with ``<node>``
and ``<way>`` elements) that :func:`osmnx.graph_from_xml` reads exactly like a real extract, so
the simulation can run offline on a plausible city without downloading anything.

Geography (local metres, ``x`` east and ``y`` north of :data:`ORIGIN_LON`/:data:`ORIGIN_LAT`;
the frame is ``x`` in [-7000, 7000], ``y`` in [-5000, 5000]):

* the **Zi River (资江)** crosses the frame west to east a little north of the centre, about
  200 m wide; the **Shao River (邵水)**, about 100 m wide, runs north from the southern edge
  into the Zi at ``x`` near 800 m;
* the rivers split the city into three districts: **Beita (北塔区)** north of the Zi,
  **Daxiang (大祥区)** south of the Zi and west of the Shao, **Shuangqing (双清区)** south of the
  Zi and east of the Shao;
* every bank carries an embankment road; the only road links across a river are the bridges of
  :data:`ZI_BRIDGES` (6) and :data:`SHAO_BRIDGES` (4, plus one over the Shao's mouth);
* roads follow the OSM ``highway`` hierarchy: ``trunk`` (two through routes and a ring),
  ``primary`` arterials every 1-1.5 km, ``secondary`` roads between them (every 600-800 m),
  ``tertiary`` collectors through the middle of big blocks and ``residential`` fill;
* a dense **old town** in Daxiang beside the confluence has blocks of about 90 m and one-way
  streets of alternating direction; elsewhere blocks are elongated (width = length / 1.6) and
  grow from about 140 m long near the centre to about 240 m at the edges of the frame, where a
  larger share of the residential links is missing.

How it is built: each district is a Coons patch, a smooth map from the unit square onto the
district whose sides are the river banks and the frame, so the street grid bends with the
rivers. Lines of constant ``u`` or ``v`` at chosen positions are arterials; each cell between
arterials (a "superblock") is filled with its own grid of local streets, whose spacing depends on
where it lies. Local street positions and intersection nodes are jittered, a fraction of the
residential links is dropped, and dropped links are put back where needed until the directed
road graph is strongly connected.

Everything random comes from ``numpy.random.default_rng(seed)``, and the output is written in a
fixed order, so the same seed gives a byte-identical file. The geography (rivers, bridges,
districts, arterial grid, old town) does not depend on the seed; the local streets do.
"""

from __future__ import annotations

import itertools
import math
import pathlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "ORIGIN_LAT",
    "ORIGIN_LON",
    "local_to_lonlat",
    "lonlat_to_local",
    "synthetic_features",
    "write_synthetic_shaoyang",
]

GENERATOR_VERSION = "1"
"""Bumped whenever the generated network changes for a given seed (used as a cache key)."""

# ---------------------------------------------------------------------------------------------
# frame and projection

ORIGIN_LAT = 27.24
"""Latitude of the frame centre (degrees north)."""
ORIGIN_LON = 111.47
"""Longitude of the frame centre (degrees east)."""
M_PER_DEG_LAT = 110_574.0
"""Metres per degree of latitude."""
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))
"""Metres per degree of longitude at :data:`ORIGIN_LAT`."""

X_MIN_M, X_MAX_M = -7000.0, 7000.0
Y_MIN_M, Y_MAX_M = -5000.0, 5000.0

COORD_DECIMALS = 7

# ---------------------------------------------------------------------------------------------
# rivers

ZI_NAME = "Zi River (资江)"
SHAO_NAME = "Shao River (邵水)"
ZI_HALF_WIDTH_M = 100.0
"""Half the Zi's width: no road node lies closer than this to its centre line."""
SHAO_HALF_WIDTH_M = 50.0
"""Half the Shao's width."""
ZI_BANK_OFFSET_M = 130.0
"""Distance (north-south) from the Zi centre line to the embankment roads on either bank."""
SHAO_BANK_OFFSET_M = 75.0
"""Distance (east-west) from the Shao centre line to the embankment roads on either bank."""
CONFLUENCE_X_M = 800.0
"""The Shao joins the Zi here."""
RIVER_SAMPLE_STEP_M = 100.0


def _zi_y(x: np.ndarray | float) -> np.ndarray | float:
    """``y`` (m) of the Zi's centre line at ``x`` (m): a gentle meander north of the centre."""
    x = np.asarray(x)
    return 700.0 + 350.0 * np.sin(x / 2800.0) + 80.0 * np.sin(x / 1200.0 + 0.7)


_CONFLUENCE_Y_M = float(_zi_y(CONFLUENCE_X_M))


def _shao_x(y: np.ndarray | float) -> np.ndarray | float:
    """``x`` (m) of the Shao's centre line at ``y`` (m); the confluence ``x`` at its mouth."""
    t = np.asarray(y) - _CONFLUENCE_Y_M
    return CONFLUENCE_X_M + 150.0 * np.sin(t / 1400.0) + 50.0 * np.sin(t / 520.0)


def _river_centre_lines() -> tuple[list[tuple[float, float]], list[tuple[float, float]], int]:
    """Sampled centre lines (local m) of the Zi (west to east) and of the Shao (south to north,
    ending on the Zi's vertex at the confluence), and the index of that vertex in the Zi."""
    n_zi = round((X_MAX_M - X_MIN_M) / RIVER_SAMPLE_STEP_M) + 1
    xs = np.linspace(X_MIN_M, X_MAX_M, n_zi)
    conf_i = int(np.argmin(np.abs(xs - CONFLUENCE_X_M)))
    xs[conf_i] = CONFLUENCE_X_M
    zi = list(zip(xs.tolist(), np.asarray(_zi_y(xs)).tolist(), strict=False))
    n_sh = math.ceil((_CONFLUENCE_Y_M - Y_MIN_M) / RIVER_SAMPLE_STEP_M) + 1
    ys = np.linspace(Y_MIN_M, _CONFLUENCE_Y_M, n_sh)[:-1]
    shao = [*list(zip(np.asarray(_shao_x(ys)).tolist(), ys.tolist(), strict=False)), zi[conf_i]]
    return zi, shao, conf_i


# ---------------------------------------------------------------------------------------------
# bridges and named roads.  Each Zi bridge carries a north-south arterial at that x, each Shao
# bridge an east-west arterial at that y; the roads keep their name on both banks.
# (position m, bridge name, road name, highway class, ref or "")

ZI_BRIDGES: tuple[tuple[float, str, str, str, str], ...] = (
    (-5200.0, "Xihuan Bridge (西环大桥)", "Xihuan Road (西环路)", "primary", ""),
    (-3200.0, "Zijiang No.2 Bridge (资江二桥)", "Minzhou Road (敏州路)", "primary", ""),
    (-1600.0, "Zijiang No.1 Bridge (资江一桥)", "Hongqi Road (红旗路)", "primary", ""),
    (-200.0, "Xihu Bridge (西湖大桥)", "Wuyi Road (五一路)", "primary", ""),
    (2300.0, "Xuefeng Bridge (雪峰大桥)", "Shaoyang Avenue (邵阳大道)", "trunk", "G207"),
    (4600.0, "Shuangqing Bridge (双清大桥)", "Dongfeng Road (东风路)", "primary", ""),
)
"""Bridges over the Zi: ``x`` of the crossing (m), bridge name, road name, class, ref."""

SHAO_BRIDGES: tuple[tuple[float, str, str, str, str], ...] = (
    (-3800.0, "Baoqing Bridge (宝庆大桥)", "Baoqing Road (宝庆路)", "trunk", "G320"),
    (-2600.0, "Chengnan Bridge (城南桥)", "Chengnan Road (城南路)", "primary", ""),
    (-1800.0, "Shaoshui No.2 Bridge (邵水二桥)", "Xuefeng Road (雪峰路)", "primary", ""),
    (-700.0, "Shaoshui No.1 Bridge (邵水一桥)", "Zhongshan Road (中山路)", "primary", ""),
)
"""Bridges over the Shao: ``y`` of the crossing (m), bridge name, road name, class, ref.
A fifth Shao bridge, :data:`SHAO_MOUTH_BRIDGE`, carries the Zi's south embankment road over the
Shao's mouth."""

SHAO_MOUTH_BRIDGE = "Hekou Bridge (河口桥)"

BEITA_PRIMARIES: tuple[tuple[float, str], ...] = (
    (2000.0, "Jiangbei Road (江北路)"),
    (3300.0, "Beihuan Road (北环路)"),
)
"""East-west arterials of Beita: ``y`` (m, measured at ``x`` = 0) and name."""

ZI_NORTH_BANK_ROAD = "Binjiang North Road (滨江北路)"
ZI_SOUTH_BANK_ROAD = "Binjiang South Road (滨江南路)"
SHAO_WEST_BANK_ROAD = "Shaoshui West Road (邵水西路)"
SHAO_EAST_BANK_ROAD = "Shaoshui East Road (邵水东路)"

# The trunk network: Shaoyang Avenue (x = 2300) and Baoqing Road (y = -3800) cross the whole
# frame; with Beihuan Road (y = 3300) between them and Xihuan Road (x = -5200) they form a ring.
RING_WEST_X_M = -5200.0
RING_EAST_X_M = 2300.0
RING_NORTH_Y_M = 3300.0
RING_SOUTH_Y_M = -3800.0

MAXSPEED_KMH = {"trunk": "60", "primary": "50"}

_NAME_POOL: tuple[str, ...] = (
    "Weiyuan Road (魏源路)", "Cai'e Road (蔡锷路)", "Renmin Road (人民路)", "Jianshe Road (建设路)",
    "Shuangyong Road (双拥路)", "Taohua Road (桃花路)", "Cuiyuan Road (翠园路)",
    "Jiefang Road (解放路)", "Qinglong Road (青龙路)", "Shehu Road (佘湖路)",
    "Chengbei Road (城北路)", "Xinhua Road (新华路)", "Youyi Road (友谊路)", "Gongye Road (工业路)",
    "Zhanqian Road (站前路)", "Xihu Road (西湖路)", "Longxu Road (龙须路)", "Huayuan Road (花园路)",
    "Wenhua Road (文化路)", "Tiyu Road (体育路)", "Xueyuan Road (学院路)", "Jinhu Road (金湖路)",
    "Changhong Road (长虹路)", "Xinxing Road (新兴路)", "Shengli Road (胜利路)",
    "Hongxing Road (红星路)", "Guangming Road (光明路)", "Baiyun Road (白云路)",
    "Fuqian Road (府前路)", "Yingbin Road (迎宾路)",
)

# ---------------------------------------------------------------------------------------------
# street density

OLD_TOWN_BOX_M = (-2500.0, 800.0, -1800.0, 600.0)
"""Nominal old-town extent in Daxiang (x_min, x_max, y_min, y_max), m. The old town is the block
of superblocks between the first arterials inside this box and the two rivers."""
OLD_TOWN_SPACING_M = 90.0
"""Street spacing in the old town (m)."""
SPACING_CENTRE_M = 140.0
"""Block length (m) at the city centre outside the old town..."""
SPACING_EDGE_M = 240.0
"""...growing to this at the edges of the frame."""
BLOCK_ASPECT = 1.6
"""Outside the old town blocks are elongated: their width is the length over this ratio. Each
superblock picks at random whether its blocks run east-west or north-south."""
CITY_CENTRE_M = (-500.0, 0.0)

PRIMARY_MAX_GAP_M = 1800.0
PRIMARY_SPACING_M = 1300.0
SECONDARY_MIN_GAP_M = 950.0
SECONDARY_SPACING_M = 650.0

LINE_JITTER = 0.22
"""Local street positions move by up to this fraction of their spacing."""
NODE_JITTER = 0.07
"""Intersections inside a superblock move by up to this fraction of the spacing, each axis."""
ASPECT_JITTER = 0.22
"""Log-uniform half-range of the block aspect ratio of each superblock."""
DROP_CENTRE = 0.05
DROP_EDGE = 0.2
"""Fraction of residential links dropped at the centre and at the edges of the frame."""

# ---------------------------------------------------------------------------------------------
# projection


def local_to_lonlat(x_m: Any, y_m: Any) -> Any:
    """Convert local frame coordinates to longitude/latitude.

    Equirectangular projection about (:data:`ORIGIN_LON`, :data:`ORIGIN_LAT`).

    Parameters
    ----------
    x_m, y_m : float or array_like
        Metres east and north of the origin.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        Degrees east and north (floats for scalar input, arrays otherwise).
    """
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    lon = ORIGIN_LON + x / M_PER_DEG_LON
    lat = ORIGIN_LAT + y / M_PER_DEG_LAT
    if lon.ndim == 0 and lat.ndim == 0:
        return float(lon), float(lat)
    return lon, lat


def lonlat_to_local(lon, lat):
    """Convert longitude/latitude to local frame coordinates (inverse of :func:`local_to_lonlat`).

    Parameters
    ----------
    lon, lat : float or array_like
        Degrees east and north.

    Returns
    -------
    x_m, y_m : float or numpy.ndarray
        Metres east and north of the origin (floats for scalar input, arrays otherwise).
    """
    lo = np.asarray(lon, dtype=float)
    la = np.asarray(lat, dtype=float)
    x = (lo - ORIGIN_LON) * M_PER_DEG_LON
    y = (la - ORIGIN_LAT) * M_PER_DEG_LAT
    if x.ndim == 0 and y.ndim == 0:
        return float(x), float(y)
    return x, y


# ---------------------------------------------------------------------------------------------
# districts as Coons patches

Curve = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class _Patch:
    """Coons patch: bilinearly blended map from the unit square onto a region with four sides.

    ``bottom``/``top`` are parametrised by ``u`` (west to east), ``left``/``right`` by ``v``
    (south to north); the corners must agree.
    """

    def __init__(self, bottom: Curve, top: Curve, left: Curve, right: Curve) -> None:
        self.bottom, self.top, self.left, self.right = bottom, top, left, right
        zero, one = np.array([0.0]), np.array([1.0])
        self.c00 = np.array([c[0] for c in bottom(zero)])
        self.c10 = np.array([c[0] for c in bottom(one)])
        self.c01 = np.array([c[0] for c in top(zero)])
        self.c11 = np.array([c[0] for c in top(one)])
        for a, b in ((self.c00, left(zero)), (self.c10, right(zero)),
                     (self.c01, left(one)), (self.c11, right(one))):
            assert abs(a[0] - b[0][0]) < 1e-6 and abs(a[1] - b[1][0]) < 1e-6, "patch corners differ"

    def xy(self, u, v) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(u, dtype=float)
        v = np.asarray(v, dtype=float)
        bx, by = self.bottom(u)
        tx, ty = self.top(u)
        lx, ly = self.left(v)
        rx, ry = self.right(v)
        w00, w10, w01, w11 = (1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v
        x = (1 - v) * bx + v * tx + (1 - u) * lx + u * rx \
            - (w00 * self.c00[0] + w10 * self.c10[0] + w01 * self.c01[0] + w11 * self.c11[0])
        y = (1 - v) * by + v * ty + (1 - u) * ly + u * ry \
            - (w00 * self.c00[1] + w10 * self.c10[1] + w01 * self.c01[1] + w11 * self.c11[1])
        return x, y


def _confluence_corner(side: float) -> tuple[float, float]:
    """Where the Zi's south embankment meets the Shao's west (side=-1) or east (+1) embankment."""
    x, y = CONFLUENCE_X_M + side * SHAO_BANK_OFFSET_M, _CONFLUENCE_Y_M - ZI_BANK_OFFSET_M
    for _ in range(200):
        x_new = float(_shao_x(y)) + side * SHAO_BANK_OFFSET_M
        y_new = float(_zi_y(x_new)) - ZI_BANK_OFFSET_M
        if abs(x_new - x) < 1e-12 and abs(y_new - y) < 1e-12:
            break
        x, y = x_new, y_new
    return x, y


@dataclass
class _Road:
    """A named arterial (or embankment road)."""

    name: str
    highway: str
    ref: str = ""


@dataclass
class _AxisLine:
    """An arterial grid line of one district: constant ``u`` (axis "u") or constant ``v``."""

    param: float
    phys: float  # position in metres along the axis' reference line
    role: str  # "frame" (no road), "bank", "primary", "secondary"
    road: _Road | None = None
    trunk_range: tuple[float, float] | None = None  # along-line parameter range that is trunk


@dataclass
class _District:
    key: str
    name: str
    patch: _Patch
    u_lines: list[_AxisLine]
    v_lines: list[_AxisLine]
    u_of: Callable[[float], float]  # physical reference position -> u
    v_of: Callable[[float], float]
    old_town: tuple[int, int, int, int] | None = None  # (a0, a1, b0, b1) superblock index range


def _axis(lo: float, hi: float, lo_role: str, hi_role: str, lo_road: _Road | None,
          hi_road: _Road | None, forced: list[tuple[float, _Road]],
          to_param: Callable[[float], float]) -> list[_AxisLine]:
    """Arterial lines along one axis of a district: the two ends, the forced (bridge) primaries,
    extra primaries where the gaps are wide, and secondaries between them."""
    prim: list[tuple[float, _Road | None]] = sorted(
        [(p, r) for p, r in forced if lo + 200.0 < p < hi - 200.0], key=lambda t: t[0])
    anchors = [lo] + [p for p, _ in prim] + [hi]
    for p0, p1 in itertools.pairwise(anchors):
        gap = p1 - p0
        if gap > PRIMARY_MAX_GAP_M:
            k = math.ceil(gap / PRIMARY_SPACING_M) - 1
            prim += [(p0 + gap * i / (k + 1), None) for i in range(1, k + 1)]
    prim.sort(key=lambda t: t[0])
    lines = [_AxisLine(0.0, lo, lo_role, lo_road)]
    lines += [_AxisLine(to_param(p), p, "primary", r) for p, r in prim]
    lines.append(_AxisLine(1.0, hi, hi_role, hi_road))
    out: list[_AxisLine] = []
    for l0, l1 in itertools.pairwise(lines):
        out.append(l0)
        gap = l1.phys - l0.phys
        if gap > SECONDARY_MIN_GAP_M:
            k = max(1, round(gap / SECONDARY_SPACING_M) - 1)
            for i in range(1, k + 1):
                p = l0.phys + gap * i / (k + 1)
                out.append(_AxisLine(to_param(p), p, "secondary", None))
    out.append(lines[-1])
    return out


def _build_districts() -> dict[str, _District]:
    """The three districts with their patches and arterial grids (seed-independent)."""
    zi_roads = {x: _Road(road, hw, ref) for x, _b, road, hw, ref in ZI_BRIDGES}
    shao_roads = {y: _Road(road, hw, ref) for y, _b, road, hw, ref in SHAO_BRIDGES}
    xw, yw = _confluence_corner(-1.0)
    xe, ye = _confluence_corner(+1.0)
    yzw = float(_zi_y(X_MIN_M))
    yze = float(_zi_y(X_MAX_M))

    # --- Beita: north of the Zi --------------------------------------------------------------
    def bt_bottom(u):
        x = X_MIN_M + u * (X_MAX_M - X_MIN_M)
        return x, _zi_y(x) + ZI_BANK_OFFSET_M

    def bt_top(u):
        return X_MIN_M + u * (X_MAX_M - X_MIN_M), np.full_like(u, Y_MAX_M)

    def bt_left(v):
        return np.full_like(v, X_MIN_M), (1 - v) * (yzw + ZI_BANK_OFFSET_M) + v * Y_MAX_M

    def bt_right(v):
        return np.full_like(v, X_MAX_M), (1 - v) * (yze + ZI_BANK_OFFSET_M) + v * Y_MAX_M

    b0 = float(_zi_y(0.0)) + ZI_BANK_OFFSET_M

    def bt_u(x):
        return (x - X_MIN_M) / (X_MAX_M - X_MIN_M)

    def bt_v(y):
        return (y - b0) / (Y_MAX_M - b0)

    beita = _District(
        "BT", "Beita (北塔区)", _Patch(bt_bottom, bt_top, bt_left, bt_right),
        _axis(X_MIN_M, X_MAX_M, "frame", "frame", None, None, list(zi_roads.items()), bt_u),
        _axis(b0, Y_MAX_M, "bank", "frame", _Road(ZI_NORTH_BANK_ROAD, "secondary"), None,
              [(y, _Road(n, "primary")) for y, n in BEITA_PRIMARIES], bt_v),
        bt_u, bt_v)

    # --- Daxiang: south of the Zi, west of the Shao ------------------------------------------
    xb_w = float(_shao_x(Y_MIN_M)) - SHAO_BANK_OFFSET_M

    def dx_bottom(u):
        return X_MIN_M + u * (xb_w - X_MIN_M), np.full_like(u, Y_MIN_M)

    def dx_top(u):
        x = X_MIN_M + u * (xw - X_MIN_M)
        return x, _zi_y(x) - ZI_BANK_OFFSET_M

    def dx_left(v):
        return np.full_like(v, X_MIN_M), Y_MIN_M + v * (yzw - ZI_BANK_OFFSET_M - Y_MIN_M)

    def dx_right(v):
        y = Y_MIN_M + v * (yw - Y_MIN_M)
        return _shao_x(y) - SHAO_BANK_OFFSET_M, y

    def dx_u(x):
        return (x - X_MIN_M) / (xw - X_MIN_M)

    def dx_v(y):
        return (y - Y_MIN_M) / (yw - Y_MIN_M)

    daxiang = _District(
        "DX", "Daxiang (大祥区)", _Patch(dx_bottom, dx_top, dx_left, dx_right),
        _axis(X_MIN_M, xw, "frame", "bank", None, _Road(SHAO_WEST_BANK_ROAD, "secondary"),
              [(x, r) for x, r in zi_roads.items() if x < xw], dx_u),
        _axis(Y_MIN_M, yw, "frame", "bank", None, _Road(ZI_SOUTH_BANK_ROAD, "secondary"),
              list(shao_roads.items()), dx_v),
        dx_u, dx_v)

    # --- Shuangqing: south of the Zi, east of the Shao ---------------------------------------
    xb_e = float(_shao_x(Y_MIN_M)) + SHAO_BANK_OFFSET_M

    def sq_bottom(u):
        return xb_e + u * (X_MAX_M - xb_e), np.full_like(u, Y_MIN_M)

    def sq_top(u):
        x = xe + u * (X_MAX_M - xe)
        return x, _zi_y(x) - ZI_BANK_OFFSET_M

    def sq_left(v):
        y = Y_MIN_M + v * (ye - Y_MIN_M)
        return _shao_x(y) + SHAO_BANK_OFFSET_M, y

    def sq_right(v):
        return np.full_like(v, X_MAX_M), Y_MIN_M + v * (yze - ZI_BANK_OFFSET_M - Y_MIN_M)

    def sq_u(x):
        return (x - xe) / (X_MAX_M - xe)

    def sq_v(y):
        return (y - Y_MIN_M) / (ye - Y_MIN_M)

    shuangqing = _District(
        "SQ", "Shuangqing (双清区)", _Patch(sq_bottom, sq_top, sq_left, sq_right),
        _axis(xe, X_MAX_M, "bank", "frame", _Road(SHAO_EAST_BANK_ROAD, "secondary"), None,
              [(x, r) for x, r in zi_roads.items() if x > xe], sq_u),
        _axis(Y_MIN_M, ye, "frame", "bank", None, _Road(ZI_SOUTH_BANK_ROAD, "secondary"),
              list(shao_roads.items()), sq_v),
        sq_u, sq_v)

    districts = {d.key: d for d in (beita, daxiang, shuangqing)}

    # --- the trunk ring: parts of Beihuan Road and Xihuan Road -------------------------------
    def line_at(lines: list[_AxisLine], phys: float) -> _AxisLine:
        return next(ln for ln in lines if abs(ln.phys - phys) < 1e-9)

    line_at(beita.v_lines, RING_NORTH_Y_M).trunk_range = (bt_u(RING_WEST_X_M), bt_u(RING_EAST_X_M))
    line_at(beita.u_lines, RING_WEST_X_M).trunk_range = (0.0, bt_v(RING_NORTH_Y_M))
    line_at(daxiang.u_lines, RING_WEST_X_M).trunk_range = (dx_v(RING_SOUTH_Y_M), 1.0)

    # --- names for the remaining arterials ---------------------------------------------------
    pool = list(_NAME_POOL)
    unnamed = [(d, ln) for role in ("primary", "secondary") for d in districts.values()
               for ln in d.u_lines + d.v_lines if ln.role == role and ln.road is None]
    counters: dict[str, int] = defaultdict(int)
    for d, ln in unnamed:
        if pool:
            name = pool.pop(0)
        else:
            counters[d.key] += 1
            py, cn = d.name.split(" (")
            name = f"{py} Road {counters[d.key]} ({cn[:2]}{counters[d.key]}路)"
        ln.road = _Road(name, ln.role)

    # --- the old town: Daxiang superblocks inside the nominal box, up to both rivers ---------
    x0, _x1, y0, _y1 = OLD_TOWN_BOX_M
    a0 = next(i for i, ln in enumerate(daxiang.u_lines) if ln.phys >= x0 - 1e-9)
    b0_ = next(i for i, ln in enumerate(daxiang.v_lines) if ln.phys >= y0 - 1e-9)
    daxiang.old_town = (a0, len(daxiang.u_lines) - 1, b0_, len(daxiang.v_lines) - 1)
    return districts


# ---------------------------------------------------------------------------------------------
# network construction

Key = tuple  # node key: (district, qu, qv) or ("river", name, i)


def _q(p: float) -> int:
    """Quantise a patch parameter so that equal positions give equal node keys."""
    return round(p * 1e9)


@dataclass
class _Line:
    """A street (or river) as an ordered node sequence with per-edge tags."""

    keys: list[Key]
    tags: list[tuple[tuple[str, str], ...]]
    droppable: list[bool]
    oneway: bool = False
    kept: list[bool] = field(default_factory=list)


def _outwardness(x: float, y: float) -> float:
    """0 at the city centre, growing to 1 at the middle of the frame's sides and beyond."""
    d = math.hypot((x - CITY_CENTRE_M[0]) / X_MAX_M, (y - CITY_CENTRE_M[1]) / Y_MAX_M)
    return min(d, 1.0)


def _spacing(x: float, y: float) -> float:
    """Block length (m) outside the old town: shortest at the centre."""
    return SPACING_CENTRE_M + (SPACING_EDGE_M - SPACING_CENTRE_M) * _outwardness(x, y)


def _road_tags(road: _Road, highway: str) -> tuple[tuple[str, str], ...]:
    tags = [("highway", highway), ("name", road.name)]
    if road.ref and highway == road.highway:
        tags.append(("ref", road.ref))
    if highway in MAXSPEED_KMH:
        tags.append(("maxspeed", MAXSPEED_KMH[highway]))
    return tuple(tags)


def outside_largest_scc(lines: list[_Line]) -> set[Key]:
    """Node keys outside the largest strongly connected component of the kept edges of ``lines``
    (two-way unless the line is one-way); empty when the graph is strongly connected."""
    index: dict[Key, int] = {}
    src: list[int] = []
    dst: list[int] = []
    for ln in lines:
        for ei, kept in enumerate(ln.kept):
            if not kept:
                continue
            a = index.setdefault(ln.keys[ei], len(index))
            b = index.setdefault(ln.keys[ei + 1], len(index))
            src.append(a)
            dst.append(b)
            if not ln.oneway:
                src.append(b)
                dst.append(a)
    n = len(index)
    m = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr()
    ncomp, labels = connected_components(m, directed=True, connection="strong")
    if ncomp == 1:
        return set()
    big = np.bincount(labels).argmax()
    keys = list(index)
    return {keys[i] for i in np.flatnonzero(labels != big)}


def drop_links(lines: list[_Line], drop_p: dict[Key, float], rng: np.random.Generator) -> None:
    """Drop each droppable edge of ``lines`` with the mean ``drop_p`` of its two ends (one draw
    per droppable edge, in line order), then put dropped edges back beside the nodes outside the
    largest strongly connected component until the kept graph is strongly connected. Sets
    ``kept`` on every line."""
    cand = [(li, ei) for li, ln in enumerate(lines) for ei in range(len(ln.tags))
            if ln.droppable[ei]]
    draws = rng.random(len(cand))
    for ln in lines:
        ln.kept = [True] * len(ln.tags)
    dropped = set()
    for (li, ei), r in zip(cand, draws, strict=False):
        ln = lines[li]
        p = 0.5 * (drop_p[ln.keys[ei]] + drop_p[ln.keys[ei + 1]])
        if r < p:
            ln.kept[ei] = False
            dropped.add((li, ei))
    while True:
        outside = outside_largest_scc(lines)
        if not outside:
            break
        restore = [(li, ei) for li, ei in sorted(dropped)
                   if not outside.isdisjoint(lines[li].keys[ei:ei + 2])]
        if not restore:  # cannot happen when the undropped grid is strongly connected
            raise RuntimeError("synthetic network is not strongly connected")
        for li, ei in restore:
            lines[li].kept[ei] = True
            dropped.discard((li, ei))


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.districts = _build_districts()
        self.params: dict[Key, tuple[float, float]] = {}  # key -> (u, v)
        self.jitter_amp: dict[Key, float] = {}  # interior nodes only, m
        self.drop_p: dict[Key, float] = {}
        self.lines: list[_Line] = []
        self.pos: dict[Key, tuple[float, float]] = {}

    # -- helpers --------------------------------------------------------------------------
    def _key(self, d: _District, u: float, v: float) -> Key:
        k = (d.key, _q(u), _q(v))
        self.params.setdefault(k, (u, v))
        return k

    def build(self) -> None:
        for d in self.districts.values():
            self._district(d)
        self._bridges()
        self._positions()
        self._drop_links()
        self._rivers()

    # -- districts ------------------------------------------------------------------------
    def _district(self, d: _District) -> None:
        U = [ln.param for ln in d.u_lines]
        V = [ln.param for ln in d.v_lines]
        on_u: dict[int, set[int]] = defaultdict(set)  # arterial u-line index -> qv of its nodes
        on_v: dict[int, set[int]] = defaultdict(set)
        v_by_q: dict[int, float] = {}
        u_by_q: dict[int, float] = {}
        offsets: dict[tuple[str, int, int], np.ndarray] = {}

        def subdivision(axis: str, idx: int, n: int, lo: float, hi: float) -> list[float]:
            k = (axis, idx, n)
            if k not in offsets:
                offsets[k] = self.rng.uniform(-LINE_JITTER, LINE_JITTER, max(n - 1, 0))
            off = offsets[k]
            return [lo] + [lo + (i + off[i - 1]) / n * (hi - lo) for i in range(1, n)] + [hi]

        for a in range(len(U) - 1):
            for b in range(len(V) - 1):
                um, vm = 0.5 * (U[a] + U[a + 1]), 0.5 * (V[b] + V[b + 1])
                pts_x, pts_y = d.patch.xy(np.array([U[a], U[a + 1], um, um, um]),
                                          np.array([vm, vm, V[b], V[b + 1], vm]))
                width = math.hypot(pts_x[1] - pts_x[0], pts_y[1] - pts_y[0])
                height = math.hypot(pts_x[3] - pts_x[2], pts_y[3] - pts_y[2])
                cx, cy = float(pts_x[4]), float(pts_y[4])
                old = d.old_town is not None and d.old_town[0] <= a < d.old_town[1] \
                    and d.old_town[2] <= b < d.old_town[3]
                s = OLD_TOWN_SPACING_M if old else _spacing(cx, cy)
                aspect = math.exp(self.rng.uniform(-ASPECT_JITTER, ASPECT_JITTER))
                if not old:
                    s /= math.sqrt(BLOCK_ASPECT)  # geometric mean of block length and width
                    flip = self.rng.random() < 0.5
                    aspect *= math.sqrt(BLOCK_ASPECT) if flip else 1.0 / math.sqrt(BLOCK_ASPECT)
                nu = max(1, round(width / (s * aspect)))
                nv = max(1, round(height * aspect / s))
                us = subdivision("u", a, nu, U[a], U[a + 1])
                vs = subdivision("v", b, nv, V[b], V[b + 1])
                for qv_, v_ in ((_q(v_), v_) for v_ in vs):
                    v_by_q[qv_] = v_
                for qu_, u_ in ((_q(u_), u_) for u_ in us):
                    u_by_q[qu_] = u_
                for k in range(1, nu):
                    on_v[b].add(_q(us[k]))
                    on_v[b + 1].add(_q(us[k]))
                for j in range(1, nv):
                    on_u[a].add(_q(vs[j]))
                    on_u[a + 1].add(_q(vs[j]))
                p_drop = DROP_CENTRE + (DROP_EDGE - DROP_CENTRE) * _outwardness(cx, cy)
                for k in range(1, nu):
                    for j in range(1, nv):
                        key = self._key(d, us[k], vs[j])
                        self.jitter_amp[key] = NODE_JITTER * s
                # one tertiary collector through the middle, across the longer side
                tert_u = nu // 2 if nu >= 4 and nu >= nv else -1
                tert_v = nv // 2 if nv >= 4 and nv > nu else -1
                # local north-south streets (constant u)
                for k in range(1, nu):
                    keys = [self._key(d, us[k], v_) for v_ in vs]
                    hw = "tertiary" if k == tert_u else "residential"
                    oneway = old and hw == "residential"
                    if oneway and k % 2 == 1:
                        keys.reverse()
                    tags = (("highway", hw),) + ((("oneway", "yes"),) if oneway else ())
                    self._add_line(keys, tags, droppable=(hw == "residential" and not oneway),
                                   oneway=oneway, p_drop=p_drop)
                # local east-west streets (constant v)
                for j in range(1, nv):
                    keys = [self._key(d, u_, vs[j]) for u_ in us]
                    hw = "tertiary" if j == tert_v else "residential"
                    self._add_line(keys, (("highway", hw),), droppable=(hw == "residential"),
                                   oneway=False, p_drop=p_drop)

        # arterials: constant-u lines then constant-v lines
        for a, ln in enumerate(d.u_lines):
            if ln.role == "frame":
                continue
            qs = sorted(on_u[a] | {_q(v_) for v_ in V})
            v_by_q.update({_q(v_): v_ for v_ in V})
            keys = [self._key(d, U[a], v_by_q[q]) for q in qs]
            self._add_arterial(ln, keys, [self.params[k][1] for k in keys])
        for b, ln in enumerate(d.v_lines):
            if ln.role == "frame":
                continue
            qs = sorted(on_v[b] | {_q(u_) for u_ in U})
            u_by_q.update({_q(u_): u_ for u_ in U})
            keys = [self._key(d, u_by_q[q], V[b]) for q in qs]
            self._add_arterial(ln, keys, [self.params[k][0] for k in keys])

    def _add_line(self, keys: list[Key], tags: tuple, *, droppable: bool, oneway: bool,
                  p_drop: float) -> None:
        n = len(keys) - 1
        self.lines.append(_Line(keys, [tags] * n, [droppable] * n, oneway))
        if droppable:
            for k in keys:
                self.drop_p[k] = p_drop

    def _add_arterial(self, ln: _AxisLine, keys: list[Key], along: list[float]) -> None:
        assert ln.road is not None
        tags = []
        for i in range(len(keys) - 1):
            hw = ln.road.highway
            if ln.trunk_range is not None:
                mid = 0.5 * (along[i] + along[i + 1])
                if ln.trunk_range[0] <= mid <= ln.trunk_range[1]:
                    hw = "trunk"
            tags.append(_road_tags(ln.road, hw))
        self.lines.append(_Line(keys, tags, [False] * len(tags), False))

    # -- bridges --------------------------------------------------------------------------
    def _bridges(self) -> None:
        bt, dx, sq = self.districts["BT"], self.districts["DX"], self.districts["SQ"]
        for x, bname, road, hw, ref in ZI_BRIDGES:
            south = dx if x < CONFLUENCE_X_M else sq
            if hw != "trunk" and abs(x - RING_WEST_X_M) < 1e-9:
                hw = "trunk"  # Xihuan Road is part of the ring
            n = (bt.key, _q(bt.u_of(x)), _q(0.0))
            s = (south.key, _q(south.u_of(x)), _q(1.0))
            self._add_bridge([n, s], _Road(road, hw, ref), bname)
        for y, bname, road, hw, ref in SHAO_BRIDGES:
            w = (dx.key, _q(1.0), _q(dx.v_of(y)))
            e = (sq.key, _q(0.0), _q(sq.v_of(y)))
            self._add_bridge([w, e], _Road(road, hw, ref), bname)
        self._add_bridge([(dx.key, _q(1.0), _q(1.0)), (sq.key, _q(0.0), _q(1.0))],
                         _Road(ZI_SOUTH_BANK_ROAD, "secondary"), SHAO_MOUTH_BRIDGE)

    def _add_bridge(self, keys: list[Key], road: _Road, bridge_name: str) -> None:
        for k in keys:  # both ends must be nodes of embankment roads already built
            if k not in self.params:
                raise ValueError(f"bridge {bridge_name!r} does not meet a road on both banks; "
                                 "check the bridge position constants")
        tags = (*_road_tags(road, road.highway), ("bridge", "yes"), ("layer", "1"),
                ("bridge:name", bridge_name))
        self.lines.append(_Line(keys, [tags], [False], False))

    # -- positions ------------------------------------------------------------------------
    def _positions(self) -> None:
        keys = sorted(self.params)
        by_d: dict[str, list[Key]] = defaultdict(list)
        for k in keys:
            by_d[k[0]].append(k)
        for dk, ks in by_d.items():
            uv = np.array([self.params[k] for k in ks])
            x, y = self.districts[dk].patch.xy(uv[:, 0], uv[:, 1])
            for k, xi, yi in zip(ks, x.tolist(), y.tolist(), strict=False):
                self.pos[k] = (xi, yi)
        interior = [k for k in keys if k in self.jitter_amp]
        amp = np.array([self.jitter_amp[k] for k in interior])
        jit = self.rng.uniform(-1.0, 1.0, (len(interior), 2)) * amp[:, None]
        for k, (jx, jy) in zip(interior, jit.tolist(), strict=False):
            px, py = self.pos[k]
            self.pos[k] = (px + jx, py + jy)

    # -- dropping residential links, keeping the graph strongly connected ----------------
    def _drop_links(self) -> None:
        drop_links(self.lines, self.drop_p, self.rng)

    # -- rivers ---------------------------------------------------------------------------
    def _rivers(self) -> None:
        zi, shao, conf_i = _river_centre_lines()
        zi_keys = [("river", "zi", i) for i in range(len(zi))]
        sh_keys = [("river", "shao", i) for i in range(len(shao) - 1)] + [zi_keys[conf_i]]
        self.pos.update(zip(zi_keys, zi, strict=False))
        self.pos.update(zip(sh_keys, shao, strict=False))  # the Shao ends on the Zi's vertex
        for keys, name, width in ((zi_keys, ZI_NAME, 2 * ZI_HALF_WIDTH_M),
                                  (sh_keys, SHAO_NAME, 2 * SHAO_HALF_WIDTH_M)):
            tags = (("waterway", "river"), ("name", name), ("width", f"{width:.0f}"))
            ln = _Line(keys, [tags] * (len(keys) - 1), [False] * (len(keys) - 1), False)
            ln.kept = [True] * len(ln.tags)
            self.lines.append(ln)


# ---------------------------------------------------------------------------------------------
# output


def _ways(lines: list[_Line]) -> list[tuple[list[Key], tuple[tuple[str, str], ...]]]:
    """Split each line into OSM ways: maximal runs of kept edges with equal tags."""
    ways: list[tuple[list[Key], tuple[tuple[str, str], ...]]] = []
    for ln in lines:
        run: list[Key] = []
        run_tags: tuple[tuple[str, str], ...] = ()
        for ei, tags in enumerate(ln.tags):
            if not ln.kept[ei]:
                if len(run) > 1:
                    ways.append((run, run_tags))
                run, run_tags = [], ()
                continue
            if run and tags != run_tags:
                ways.append((run, run_tags))
                run = []
            if not run:
                run = [ln.keys[ei]]
                run_tags = tags
            run.append(ln.keys[ei + 1])
        if len(run) > 1:
            ways.append((run, run_tags))
    return ways


def _fmt(v: float) -> str:
    s = f"{v:.{COORD_DECIMALS}f}"
    return "0.0000000" if s == "-0.0000000" else s


def _render(seed: int) -> str:
    b = _Builder(seed)
    b.build()
    return render_osm(b.lines, b.pos, f"police-sim synthetic Shaoyang v{GENERATOR_VERSION} (seed {seed})")


def render_osm(lines: list[_Line], pos: dict[Key, tuple[float, float]], generator: str) -> str:
    """OSM XML text of the kept edges of ``lines`` (node positions ``pos`` in local m).

    Nodes are numbered in order of (lat, lon, key) and ways in line order, so equal input gives a
    byte-identical file; ``generator`` is written in the ``<osm>`` element.
    """
    ways = _ways(lines)
    used = {k for keys, _ in ways for k in keys}
    coords: dict[Key, tuple[str, str]] = {}
    for k in used:
        x, y = pos[k]
        lon, lat = local_to_lonlat(x, y)
        coords[k] = (_fmt(lat), _fmt(lon))
    order = sorted(used, key=lambda k: (float(coords[k][0]), float(coords[k][1]), repr(k)))
    node_id = {k: i for i, k in enumerate(order, start=1)}
    lons = [float(c[1]) for c in coords.values()]
    lats = [float(c[0]) for c in coords.values()]
    out = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<osm version="0.6" generator="{generator}">',
        f'  <bounds minlat="{_fmt(min(lats))}" minlon="{_fmt(min(lons))}" '
        f'maxlat="{_fmt(max(lats))}" maxlon="{_fmt(max(lons))}"/>',
    ]
    for k in order:
        lat, lon = coords[k]
        out.append(f'  <node id="{node_id[k]}" lat="{lat}" lon="{lon}"/>')
    for wid, (keys, tags) in enumerate(ways, start=1):
        out.append(f'  <way id="{wid}">')
        out.extend(f'    <nd ref="{node_id[k]}"/>' for k in keys)
        out.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags)
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


def write_synthetic_shaoyang(path, seed: int = 2017) -> pathlib.Path:
    """Write the synthetic central-Shaoyang street network as an OSM XML file.

    Load it with ``osmnx.graph_from_xml(path, simplify=True, retain_all=True)``. The file holds
    the road ways (``highway=*``; bridges carry ``bridge=yes``) and the two rivers as
    ``waterway=river`` ways, whose nodes are not shared with roads.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (conventionally ``*.osm``); missing parent directories are created.
    seed : int, default 2017
        Seed of ``numpy.random.default_rng`` for the local streets. The same seed always gives a
        byte-identical file; the rivers, bridges and arterial grid do not depend on it.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_render(int(seed)).encode("utf-8"))
    return path


def synthetic_features(seed: int = 2017) -> dict:
    """Map geometry of the synthetic city, in longitude/latitude (degrees).

    Parameters
    ----------
    seed : int, default 2017
        Accepted for symmetry with :func:`write_synthetic_shaoyang`; the features do not
        currently depend on it.

    Returns
    -------
    dict
        ``"rivers"``: river name -> centre line as a list of ``(lon, lat)`` tuples (the same
        vertices as the ``waterway`` ways in the file);
        ``"bridges"``: list of ``{"name", "river", "lon", "lat"}`` at each bridge's mid-point;
        ``"districts"``: district name -> closed ring ``[[lon, lat], ...]`` bounded by the river
        centre lines and the frame;
        ``"old_town"``: closed ring ``[[lon, lat], ...]`` around the dense old-town core.
    """
    del seed
    districts = _build_districts()

    def ll(x, y) -> tuple[float, float]:
        lon, lat = local_to_lonlat(x, y)
        return float(_fmt(lon)), float(_fmt(lat))

    zi, shao, conf_i = _river_centre_lines()

    bridges = []
    for x, name, *_ in ZI_BRIDGES:
        bridges.append({"name": name, "river": ZI_NAME, "lon": ll(x, _zi_y(x))[0],
                        "lat": ll(x, _zi_y(x))[1]})
    for y, name, *_ in SHAO_BRIDGES:
        lon, lat = ll(_shao_x(y), y)
        bridges.append({"name": name, "river": SHAO_NAME, "lon": lon, "lat": lat})
    (xw, yw), (xe, ye) = _confluence_corner(-1.0), _confluence_corner(1.0)
    lon, lat = ll(0.5 * (xw + xe), 0.5 * (yw + ye))
    bridges.append({"name": SHAO_MOUTH_BRIDGE, "river": SHAO_NAME, "lon": lon, "lat": lat})

    def ring(pts: list[tuple[float, float]]) -> list[list[float]]:
        r = [list(ll(x, y)) for x, y in pts]
        if r[0] != r[-1]:
            r.append(r[0])
        return r

    beita = [*zi, (X_MAX_M, Y_MAX_M), (X_MIN_M, Y_MAX_M)]
    daxiang = [(X_MIN_M, Y_MIN_M), shao[0], *shao[1:], *zi[conf_i - 1::-1]]
    shuangqing = [shao[0], (X_MAX_M, Y_MIN_M), *zi[:conf_i:-1], *shao[::-1]]
    # the old town: the patch rectangle of its superblocks, traced along its four sides
    dx = districts["DX"]
    assert dx.old_town is not None  # set when the districts are built
    a0, a1, b0, b1 = dx.old_town
    u0, u1 = dx.u_lines[a0].param, dx.u_lines[a1].param
    v0, v1 = dx.v_lines[b0].param, dx.v_lines[b1].param
    t = np.linspace(0.0, 1.0, 25)
    us = np.concatenate([u0 + (u1 - u0) * t, np.full(25, u1), u1 - (u1 - u0) * t, np.full(25, u0)])
    vs = np.concatenate([np.full(25, v0), v0 + (v1 - v0) * t, np.full(25, v1), v1 - (v1 - v0) * t])
    ox_, oy_ = dx.patch.xy(us, vs)
    old = [(float(x), float(y)) for x, y in zip(ox_, oy_, strict=False)]
    dedup = [p for i, p in enumerate(old) if i == 0 or p != old[i - 1]]

    return {
        "rivers": {ZI_NAME: [ll(x, y) for x, y in zi], SHAO_NAME: [ll(x, y) for x, y in shao]},
        "bridges": bridges,
        "districts": {
            districts["BT"].name: ring(beita),
            districts["DX"].name: ring(daxiang),
            districts["SQ"].name: ring(shuangqing),
        },
        "old_town": ring(dedup),
    }
