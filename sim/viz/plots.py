"""Every figure function of :mod:`sim.viz` in one namespace, for callers that want them all
(``from sim.viz import plots``). The code lives in one module per job:

- :mod:`sim.viz.fonts`: the CJK font; :mod:`sim.viz.style`: palettes and figure chrome;
- :mod:`sim.viz.basemap`: roads, rivers, zones, frame, labels (network geometry computed once);
- :mod:`sim.viz.maps`: layout, coverage, compliance and difference maps;
- :mod:`sim.viz.charts`: response-time curves, compliance bars, by hour of day;
- :mod:`sim.viz.save`: writing PNG/SVG/PDF files.

The data they draw are counted in :mod:`sim.analysis.cells` and :mod:`sim.analysis.hourly`.
"""

from __future__ import annotations

from sim.analysis.cells import HexCells, coverage_shares, difference_cells, hex_aggregate, layout_cells
from sim.analysis.hourly import hourly_profile, target_clock_times
from sim.viz.basemap import geometry, key_codes, river_crossings
from sim.viz.charts import plot_by_hour, plot_compliance_bars, plot_response_cdf
from sim.viz.fonts import CjkFont, cjk_font
from sim.viz.maps import plot_compliance_map, plot_coverage_map, plot_difference_map, plot_layout_map
from sim.viz.save import FIGURE_FORMATS, close, figure_png, many_figures, save_figure
from sim.viz.style import BAND_COLOURS, BAND_EDGES_S, OKABE_ITO, ZONE_COLOURS, post_codes, source_line

__all__ = [
    "BAND_COLOURS",
    "BAND_EDGES_S",
    "FIGURE_FORMATS",
    "OKABE_ITO",
    "ZONE_COLOURS",
    "CjkFont",
    "HexCells",
    "cjk_font",
    "close",
    "coverage_shares",
    "difference_cells",
    "figure_png",
    "geometry",
    "hex_aggregate",
    "hourly_profile",
    "key_codes",
    "layout_cells",
    "many_figures",
    "plot_by_hour",
    "plot_compliance_bars",
    "plot_compliance_map",
    "plot_coverage_map",
    "plot_difference_map",
    "plot_layout_map",
    "plot_response_cdf",
    "post_codes",
    "river_crossings",
    "save_figure",
    "source_line",
    "target_clock_times",
]
