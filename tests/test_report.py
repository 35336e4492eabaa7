# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""The policy brief end to end on a tiny results folder: files, numbers against summary.csv, no
re-simulation, the HTML in headless Chromium and the PDF through pdftoppm."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sim.brief import findings as fnd
from sim.brief import results as res
from sim.cli.main import main
from sim.i18n import pct, pp

from .conftest import tiny_scenario, write_grid_osm, write_scenario


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny results folder made by ``run`` (which writes the English report at its end)."""
    folder = tmp_path_factory.mktemp("tiny_report")
    write_grid_osm(folder / "grid.osm")
    scenario = tiny_scenario("grid.osm", reps=3, per_day=150.0)  # cells of 20+ incidents
    # a third layout, so that map.html has a pair of layouts without the baseline to compare
    east = scenario["layouts"]["two_posts"]["platforms"][1]
    scenario["layouts"]["east_post"] = {"label": "East post", "platforms": [{**east, "units": {"car": 2}}]}
    write_scenario(folder / "tiny.yaml", scenario)
    out = folder / "results"
    assert main(["run", str(folder / "tiny.yaml"), "--out", str(out), "--days", "2",
                 "--cache-dir", str(folder / "cache")]) == 0
    (run,) = list((out / "tiny").iterdir())
    return run


def test_run_writes_figures_and_report(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"report_en.html", "report_en.pdf", "map.html"} <= names
    for fig in ("layout_map", "response_times", "compliance_bars", "by_hour"):
        assert f"{fig}.png" in names, fig
        assert f"{fig}.svg" not in names and f"{fig}.pdf" not in names  # on request only
    assert any(n.startswith("coverage_") for n in names)
    assert any(n.startswith("compliance_map") for n in names)
    assert "difference_one_post.png" in names  # baseline two_posts, B = one_post
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["runtime_s"]["plots_s"] > 0
    if "files" in manifest:  # the manifest's checksums cover the report too
        assert "report_en.html" in manifest["files"]


def test_records_csv_reads_back_exactly(run_dir):
    records = res.read_records_csv(run_dir / "records.csv")
    assert records.to_csv() == (run_dir / "records.csv").read_text(encoding="utf-8")


def test_findings_and_table_show_summary_values(run_dir):
    results = res.load_results(run_dir)
    summary = res.read_table_csv(run_dir / "summary.csv")
    row = {(r["layout"], r["zone"]): r for r in summary}
    a, b = results.baseline, results.others[0]
    assert (a, b) == ("two_posts", "one_post")
    allowed = set()
    for r in summary:
        for k in ("compliance", "compliance_ci_low", "compliance_ci_high", "utilisation"):
            allowed.add(pct(r[k]))
    for lang in ("en", "zh"):
        sentences = fnd.findings(results, lang)
        assert 3 <= len(sentences) <= 5
        text = " ".join(sentences)
        for value in re.findall(r"\d+\.\d%", text):
            assert value in allowed, (lang, value)
        central = next(s for s in sentences if ("central city" in s or "中心城区" in s))
        assert pct(row[(a, "central")]["compliance"]) in central
        assert pct(row[(b, "central")]["compliance"]) in central
        diff = row[(b, "central")]["compliance"] - row[(a, "central")]["compliance"]
        assert pp(diff) in central
        headers, rows, _ = fnd.compliance_table(results, lang)
        assert len(rows) == len(results.layouts) * 4 and len(headers) == len(rows[0])
        shown = [r[4] for r in rows]
        assert shown == [pct(row[(lay, z)]["compliance"]) for lay in results.layouts
                         for z in ("key", "central", "other", "all")]


def test_report_command_reads_the_folder_and_never_simulates(run_dir, monkeypatch, capsys):
    import sim.engine.core
    import sim.study.experiment

    def no(*_a, **_k):
        raise AssertionError("the report must not simulate")

    monkeypatch.setattr(sim.engine.core, "simulate", no)
    monkeypatch.setattr(sim.study.experiment, "run_batch", no)
    assert main(["report", str(run_dir), "--lang", "zh", "--format", "html",
                 "--cache-dir", str(run_dir.parent.parent.parent / "cache")]) == 0
    html = (run_dir / "report_zh.html").read_text(encoding="utf-8")
    assert "主要发现" in html and "如何复现" in html and 'lang="zh-CN"' in html
    assert (run_dir / "layout_map_zh.png").is_file()
    # the page carries its own CJK font: a subset that covers every Chinese character on it
    import base64
    import io

    from fontTools.ttLib import TTFont

    font = re.search(r'@font-face\{[^}]*base64,([A-Za-z0-9+/=]+)\)', html)
    assert font
    with TTFont(io.BytesIO(base64.b64decode(font.group(1)))) as tt:
        cmap = tt.getBestCmap()
    text = re.sub(r"data:[^\"')]+", "", html)
    assert not sorted({c for c in text if ord(c) > 0x2E7F and ord(c) not in cmap})
    assert str(run_dir / "report_zh.html") in capsys.readouterr().out


def test_report_refuses_missing_or_altered_folders(run_dir, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such results folder" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with open(copy / "records.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    assert main(["report", str(copy), "--format", "html"]) == 2
    assert "checksum" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--format", "docx"])
    assert exc.value.code == 2


def test_html_is_one_file_with_no_external_reference(run_dir):
    html = (run_dir / "report_en.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|file:)", html, re.I)
    assert not re.search(r"https?://", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    imgs = re.findall(r"<img [^>]*src=\"([^\"]+)\"", html)
    assert imgs and all(src.startswith("data:image/png;base64,") for src in imgs)
    for heading in ("The question", "Key findings", "Compliance by layout and zone", "Assumptions",
                    "How to reproduce"):
        assert heading in html
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["records_sha256"] in html and manifest["inputs"]["scenario_sha256"] in html


_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push('error ' + ((e.target && (e.target.src || e.target.href)) || e.message));
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  window.__errors.push('csp ' + e.blockedURI);
});
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('img').forEach(function (im) {
    out.push(im.complete + ' ' + im.naturalWidth + ' ' + im.naturalHeight);
  });
  performance.getEntriesByType('resource').forEach(function (r) {
    if (r.name.indexOf('data:') !== 0) { window.__errors.push('request ' + r.name); }
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = 'IMAGES\\n' + out.join('\\n') + '\\nERRORS\\n' + window.__errors.join('\\n') + '\\nEND';
  document.body.appendChild(pre);
});
</script>"""


def test_html_loads_offline_in_headless_chromium(run_dir, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    html = (run_dir / "report_en.html").read_text(encoding="utf-8")
    # the probe is an inline script, which the report's policy forbids: allow it in this copy only
    html = html.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    html = html.replace("</body>", _PROBE + "</body>")
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    m = re.search(r"IMAGES\n(.*?)\nERRORS\n(.*?)\nEND", dom, re.S)
    assert m, f"the page did not finish loading: {proc.stderr[-2000:]}"
    images = [line.split() for line in m.group(1).splitlines() if line.strip()]
    assert len(images) == html.count("<img ")
    for complete, width, height in images:
        assert complete == "true" and int(width) > 0 and int(height) > 0
    assert m.group(2).strip() == "", m.group(2)


def test_pdf_brief_renders_to_pages(run_dir, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed: apt-get install poppler-utils")
    subprocess.run(["pdftoppm", "-r", "15", "-png", str(run_dir / "report_en.pdf"), str(tmp_path / "p")],
                   check=True, capture_output=True, timeout=120)
    pages = sorted(tmp_path.glob("p-*.png"))
    figures = len([p for p in run_dir.glob("*.png") if not p.stem.endswith("_zh")])
    assert len(pages) >= 3 and len(pages) >= figures + 1
    assert all(p.stat().st_size > 100 for p in pages)


def test_report_writes_svg_and_pdf_figures_on_request(run_dir, tmp_path):
    import shutil as sh

    copy = tmp_path / "copy"
    sh.copytree(run_dir, copy)
    assert main(["report", str(copy), "--format", "html", "--formats", "png,svg",
                 "--cache-dir", str(run_dir.parent.parent.parent / "cache")]) == 0
    assert (copy / "layout_map.svg").read_bytes()[:400].count(b"<svg") == 1
    assert not (copy / "layout_map.pdf").exists()


def test_pdf_brief_embeds_a_cjk_subset_and_wraps_long_lines(tmp_path):
    from sim.brief.pdf import render_pdf

    long_zh = "城市快警在中心城区三分钟内到达现场，" * 12
    long_name = "网格化平台（驻重点部位，夜间巡逻加强，含志愿者）" * 2
    blocks = [("title", "决策简报"), ("heading", "主要发现"), ("bullets", [long_zh] * 8),
              ("table", (["布局方案", "区域", "目标时间", "警情数", "按时到达", "95% 置信区间", "平均",
                          "第 90 百分位", "警力占用"],
                         [[long_name, "中心城区", "3分钟", "12", "69.7%", "60.1% – 70.2%", "3分钟",
                           "5分钟", "4.0%"]] * 30, "注")),
              ("code", ["python run_sim.py run " + "x" * 300])]
    path = tmp_path / "brief.pdf"
    pages = render_pdf(blocks, path, title="t", footer="情景：tiny", page_label="第 {n} 页")
    data = path.read_bytes()
    assert pages >= 2 and data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # an embedded TrueType font, not a name the reader must have
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "决策简报" in text and "中心城区" in text
        # wrapped, not shrunk out of the page: no line wider than an A4 page of text
        assert max(len(line) for line in text.splitlines()) < 200


_MAP_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push('error ' + e.message); }, true);
function shownNames(gd) {
  return gd.data.filter(function (t) { return t.visible !== false; }).map(function (t) {
    return t.name; }).join('|');
}
function points() { return document.querySelectorAll('#map-en .scatterlayer .trace .point').length; }
window.addEventListener('load', function () {
  var gd = document.getElementById('map-en');
  var before = shownNames(gd);
  var menu = gd.layout.updatemenus[0], pairs = gd.layout.updatemenus[1];
  var pick = pairs.buttons[pairs.buttons.length - 1];  // the last pair: two layouts, no baseline
  var after = '', pointsBefore = 0, pair = '', kept = '', top = '';
  Plotly.restyle(gd, menu.buttons[1].args[0], menu.buttons[1].args[1]).then(function () {
    after = shownNames(gd);
    pointsBefore = points();
    return Plotly.restyle(gd, pick.args[0], pick.args[1]);
  }).then(function () {
    pair = gd.data.filter(function (t) { return t.visible === true && t.marker &&
      t.marker.colorscale === 'RdBu'; }).map(function (t) { return t.name + ':' + t.x.length; }).join('|');
    var morePoints = points() - pointsBefore;
    var full = gd._fullData.filter(function (t) { return t.name === pick.label; })[0];
    var scale = full.marker.colorscale;  // as plotly resolved it: the colour of the largest gain
    top = (full.marker.reversescale ? scale[0] : scale[scale.length - 1])[1];
    return Plotly.restyle(gd, menu.buttons[0].args[0], menu.buttons[0].args[1]).then(function () {
      return morePoints; });
  }).then(function (morePoints) {
    kept = gd.data.filter(function (t) { return t.visible === true && t.name === pick.label; }).length;
    performance.getEntriesByType('resource').forEach(function (r) {
      if (r.name.indexOf('data:') !== 0) { window.__errors.push('request ' + r.name); }
    });
    var pre = document.createElement('pre');
    pre.id = 'probe';
    pre.textContent = 'TRACES ' + gd.data.length + '\\nBEFORE ' + before + '\\nAFTER ' + after +
      '\\nSVG ' + document.querySelectorAll('#map-en .scatterlayer .trace').length +
      '\\nPAIRS ' + pairs.buttons.map(function (b) { return b.label; }).join('|') +
      '\\nPICKED ' + pick.label + '\\nSHOWN ' + pair + '\\nMORE ' + morePoints + '\\nKEPT ' + kept +
      '\\nTOP ' + top +
      '\\nERRORS\\n' + window.__errors.join('\\n') + '\\nEND';
    document.body.appendChild(pre);
  }).catch(function (e) { window.__errors.push('probe ' + e); });
});
</script>"""


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=15000", *args], capture_output=True, text=True, timeout=180)


def test_map_html_works_offline_and_the_layout_switch_changes_the_map(run_dir, tmp_path):
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    # no element that loads anything (plotly.js itself mentions links in its code)
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)\s*=", page, re.I)
    probe = tmp_path / "map.html"
    probe.write_text(page.replace("</body>", _MAP_PROBE + "</body>"), encoding="utf-8")
    proc = _chromium(["--dump-dom", probe.as_uri()], tmp_path)
    m = re.search(r"TRACES (\d+)\nBEFORE (.*?)\nAFTER (.*?)\nSVG (\d+)\nPAIRS (.*?)\nPICKED (.*?)\n"
                  r"SHOWN (.*?)\nMORE (-?\d+)\nKEPT (\d+)\nTOP (.*?)\nERRORS\n(.*?)\nEND", proc.stdout, re.S)
    assert m, f"the map did not finish loading: {proc.stderr[-2000:]}"
    assert int(m.group(1)) > 5 and int(m.group(4)) > 3
    assert m.group(2) != m.group(3)  # another layout's posts and reach are drawn
    assert "Posts: two_posts" in m.group(2) and "Posts: one_post" not in m.group(2)
    assert "Posts: one_post" in m.group(3) and "Posts: two_posts" not in m.group(3)
    # the difference menu: no layer, then every pair of the three layouts once (B minus A)
    pairs = m.group(5).split("|")
    assert len(pairs) == 1 + 3 and pairs[0] == "no difference layer"
    assert set(pairs[1:]) == {"one_post minus two_posts", "East post minus two_posts",
                              "East post minus one_post"}
    assert m.group(6) == "East post minus one_post"  # a pair without the baseline
    shown, _, n_cells = m.group(7).partition(":")
    assert shown == m.group(6) and int(n_cells) > 0  # exactly that pair's cells are drawn
    assert int(m.group(8)) > 0  # and they reach the page
    assert int(m.group(9)) == 1  # switching the layout keeps the chosen difference layer
    red, _, blue = (int(v) for v in re.findall(r"\d+", m.group(10))[:3])
    assert blue > red, m.group(10)  # B better than A is blue, as on the PNG difference maps
    assert m.group(11).strip() == "", m.group(11)
    shot = tmp_path / "map.png"
    _chromium(["--hide-scrollbars", "--window-size=1400,900", f"--screenshot={shot}",
               (run_dir / "map.html").as_uri()], tmp_path)
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((140, 90)).getcolors(maxcolors=140 * 90)
    assert colours is not None and len(colours) > 20  # not a blank page


def test_console_counts_add_up_and_empty_zones_show_n_a():
    from sim.cli.main import summary_table

    nan = float("nan")

    def row(zone, incidents, comp=0.5):
        return {"layout": "a", "zone": zone, "incidents": incidents, "compliance": comp,
                "compliance_ci_low": nan, "compliance_ci_high": nan, "response_mean_s": 120.0,
                "response_p90_s": 200.0, "queued_share": nan if incidents == 0 else 0.1,
                "utilisation": 0.2}

    # per-replication means 20.4 + 18.4 + 31.4 = 70.2 over 5 replications: 102 + 92 + 157 = 351
    rows = [row("key", 20.4), row("central", 18.4), row("other", 31.4), row("all", 70.2)]
    text = summary_table(rows, {"key": 60, "central": 180, "other": 300}, "dispatch", replications=5)
    counts = [int(re.search(r"\s(\d[\d,]*)\s+50\.0%", line).group(1).replace(",", ""))
              for line in text.splitlines()[2:6]]
    assert counts == [102, 92, 157, 351] and sum(counts[:3]) == counts[3]
    empty = summary_table([row("key", 0.0, comp=nan)], {"key": 60}, "dispatch")
    assert "nan" not in empty and "n/a" in empty


def test_staffing_counts_only_units_that_take_dispatches_and_days_read_right():
    from sim.brief.findings import _units_text
    from sim.i18n import days
    from sim.scenario import DEFAULT_SCENARIO, load_scenario

    s = load_scenario(DEFAULT_SCENARIO).scenario
    posts, dispatched, never = _units_text(s, "grid_platforms_2017", "en")
    # by hand from scenarios/shaoyang.yaml: 10 platforms x (2 cars + 4 motorcycles + 1 platform vehicle)
    assert posts == 10
    assert "20 Patrol car" in dispatched and "40 Patrol motorcycle" in dispatched
    assert "platform vehicle" not in dispatched and never.startswith("10 Mobile police platform vehicle")
    assert days(86400.0, "en") == "1 day" and days(29 * 86400.0, "en") == "29 days"


def test_assumptions_name_the_farthest_snap(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    snaps = [p for p in manifest["places"] if "snap_m" in p]
    assert snaps, "every run records where its places were put"
    far = max(snaps, key=lambda p: p["snap_m"])
    text = " ".join(fnd.assumptions(res.load_results(run_dir), "en"))
    assert f"{len(snaps)} places" in text and f"'{far['name']}'" in text
    assert f"is {far['snap_m']:.0f} m away" in text
