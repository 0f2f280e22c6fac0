"""The derivation report: every claim with its checks, MathML formulas, inline figures, no network.

The report is written once for this module (from the session's checked claims); the
schedule and float32 tests recompute their numbers here, independently of the report's
code, and compare them with what the report printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from xml.etree import ElementTree

import mpmath
import numpy as np
import pytest

from radam_verify.derivation import Claim
from radam_verify.errors import RadamVerifyError, UsageError
from radam_verify.report import FormulaError, latex_to_mathml, write_derivation_report
from radam_verify.report import derivation_report as report_module

MATHML = "{http://www.w3.org/1998/Math/MathML}"
SVG = "{http://www.w3.org/2000/svg}"
FIGURE_NAMES = {"rho_t", "r_t", "variance_psi", "first_rectified_step", "float32_rho_t",
                "family"}


@dataclass(frozen=True)
class WrittenReport:
    out_dir: Path
    paths: list[Path]
    messages: list[str]
    html: str
    markdown: str


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, claims: dict[str, Claim]) -> WrittenReport:
    out_dir = tmp_path_factory.mktemp("report")
    messages: list[str] = []
    paths = write_derivation_report(out_dir, progress=messages.append, claims=list(claims.values()))
    return WrittenReport(
        out_dir, paths, messages,
        html=(out_dir / "derivation.html").read_text(encoding="utf-8"),
        markdown=(out_dir / "derivation.md").read_text(encoding="utf-8"),
    )


def _article(html: str, claim_id: str) -> str:
    found = re.search(rf'<article class="claim" id="claim-{re.escape(claim_id)}">(.*?)</article>',
                      html, re.DOTALL)
    assert found, f"claim {claim_id} has no <article> in derivation.html"
    return found.group(1)


def _maths(fragment: str) -> list[str]:
    return re.findall(r"<math\b.*?</math>", fragment, re.DOTALL)


def _markdown_table(markdown: str, number: int) -> list[list[str]]:
    """The rows (without header) of the Markdown table captioned ``*Table number.*``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"*Table {number}.*"))
    table = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table[2:]


# --- the report as a whole -------------------------------------------------------------------


def test_the_report_writes_html_markdown_and_one_svg_per_figure(report: WrittenReport) -> None:
    names = [path.relative_to(report.out_dir).as_posix() for path in report.paths]
    assert names[:2] == ["derivation.html", "derivation.md"]
    assert {Path(name).stem for name in names[2:]} == FIGURE_NAMES
    assert all(name.startswith("figures/") for name in names[2:])
    assert all(path.is_file() and path.stat().st_size > 0 for path in report.paths)


def test_progress_names_each_part_as_it_starts(report: WrittenReport) -> None:
    expected = ["figure: rho_t", "figure: r_t", "figure: variance of psi",
                "figure: first rectified step", "table: early schedule", "numerics: rho_t in float32",
                "writing derivation.html"]
    positions = [report.messages.index(message) for message in expected]
    assert positions == sorted(positions), report.messages
    assert "checking claims" not in report.messages  # the claims were passed in


def test_claims_are_checked_when_none_are_given(
    tmp_path: Path, claims: dict[str, Claim], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_module, "all_claims", lambda: list(claims.values()))
    messages: list[str] = []
    write_derivation_report(tmp_path, progress=messages.append)
    assert messages[0] == "checking claims"
    assert (tmp_path / "derivation.html").is_file()


def test_the_same_claims_give_the_same_files(
    report: WrittenReport, tmp_path: Path, claims: dict[str, Claim]
) -> None:
    paths = write_derivation_report(tmp_path, claims=list(claims.values()))
    for path in paths:
        original = report.out_dir / path.relative_to(tmp_path)
        assert path.read_bytes() == original.read_bytes(), f"{path.name} differs between two runs"


def test_a_file_in_place_of_the_folder_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "derivation"
    target.write_text("")
    with pytest.raises(UsageError, match="pass a folder"):
        write_derivation_report(target, claims=[])


# --- claims and formulas ---------------------------------------------------------------------


def test_every_claim_appears_with_its_verification(report: WrittenReport, claims: dict[str, Claim]) -> None:
    for item in claims.values():
        article = _article(report.html, item.id)
        assert escape(item.title) in article
        assert escape(item.statement) in article
        assert ("verified" if item.verified else "NOT VERIFIED") in article
        steps = re.findall(r"<li>(.*?)</li>", article, re.DOTALL)
        assert len(steps) == len(item.steps), item.id
        for step, shown in zip(item.steps, steps, strict=True):
            mark = "ok" if step.verified else "FAILED"
            assert escape(step.description) in shown
            assert escape(step.method) in shown
            assert f">{mark}</span>" in shown, (item.id, step.description)
            assert f"{step.description} ({step.method}: {mark})" in report.markdown
        assert f'<a id="claim-{item.id}"></a>' in report.markdown
        assert f"`{item.id}`" in report.markdown
        assert f'href="#claim-{item.id}"' in report.html  # listed in the contents


def test_every_formula_is_mathml(report: WrittenReport, claims: dict[str, Claim]) -> None:
    assert "\\" not in report.html, "raw LaTeX left in derivation.html"
    for item in claims.values():
        maths = _maths(_article(report.html, item.id))
        assert len(maths) == 1 + len(item.steps), item.id
        for markup in maths:
            root = ElementTree.fromstring(markup)
            assert root.tag == f"{MATHML}math"
            assert root.get("display") == "block"
            assert len(root) > 0


def test_limits_are_set_under_lim_in_display_formulas() -> None:
    root = ElementTree.fromstring(latex_to_mathml(r"\lim_{t \to \infty} \rho_t = \rho_\infty"))
    assert root.find(f".//{MATHML}munder/{MATHML}mo").text == "lim"  # type: ignore[union-attr]
    inline = ElementTree.fromstring(latex_to_mathml(r"\lim_{t \to \infty} x", display=False))
    assert inline.find(f".//{MATHML}munder") is None


@pytest.mark.parametrize(
    ("latex", "problem"),
    [
        (r"\frac{1}{", "cannot convert"),
        (r"\notacommand x", "kept a LaTeX command"),
        (r"\text{a<b}", "malformed MathML"),
    ],
)
def test_a_formula_that_cannot_be_rendered_is_an_error(latex: str, problem: str) -> None:
    with pytest.raises(FormulaError, match=problem) as raised:
        latex_to_mathml(latex)
    assert isinstance(raised.value, RadamVerifyError)


# --- a self-contained page -------------------------------------------------------------------


class _Resources(HTMLParser):
    """Every tag and every attribute that could name something outside the page."""

    LINKING: ClassVar[frozenset[str]] = frozenset(
        {"src", "href", "xlink:href", "data", "poster", "srcset", "action", "background"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.styles: list[str] = []
        self.ids: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in self.LINKING:
                self.links.append(value or "")
            elif name == "style":
                self.styles.append(value or "")
            elif name == "id":
                self.ids.append(value or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def test_html_has_no_network_resources(report: WrittenReport) -> None:
    page = _Resources()
    page.feed(report.html)
    assert not page.tags & {"script", "link", "iframe", "object", "embed", "img", "audio", "video",
                            "source", "base"}
    assert page.links, "the page links nothing, not even its contents"
    assert [link for link in page.links if not link.startswith("#")] == []
    css = "\n".join(page.styles)
    assert "@import" not in css
    assert "@font-face" not in css
    assert all(url.startswith("#") for url in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css))
    assert re.search(r"<style>.+</style>", report.html, re.DOTALL)
    assert '<nav id="contents">' in report.html


def test_figures_are_inline_svg(report: WrittenReport) -> None:
    figures = re.findall(r'<figure id="figure-([^"]+)">(.*?)</figure>', report.html, re.DOTALL)
    assert {name for name, _ in figures} == FIGURE_NAMES
    for name, body in figures:
        svg = re.search(r"<svg\b.*</svg>", body, re.DOTALL)
        assert svg, f"figure {name} has no inline <svg>"
        root = ElementTree.fromstring(svg.group(0))
        assert root.tag == f"{SVG}svg"
        assert len(root.findall(f".//{SVG}path")) > 20, f"figure {name} draws almost nothing"
        assert "<figcaption>" in body
    page = _Resources()
    page.feed(report.html)
    assert len(page.ids) == len(set(page.ids)), "two elements share an id"
    referenced = re.findall(r"url\(#([^)]+)\)", report.html) + [
        link[1:] for link in page.links]
    assert set(referenced) <= set(page.ids), set(referenced) - set(page.ids)


def test_markdown_links_each_figure_file(report: WrittenReport) -> None:
    for name in FIGURE_NAMES:
        assert f"](figures/{name}.svg)" in report.markdown
        root = ElementTree.parse(report.out_dir / "figures" / f"{name}.svg").getroot()
        assert root.tag == f"{SVG}svg"


# --- the numbers, recomputed here ------------------------------------------------------------


def test_schedule_table_matches_the_exact_schedule(report: WrittenReport) -> None:
    ctx = mpmath.MPContext()
    ctx.prec = 256
    beta1, beta2 = ctx.mpf(0.9), ctx.mpf(0.999)  # the binary64 values, exactly
    rho_inf = 2 / (1 - beta2) - 1
    rows = _markdown_table(report.markdown, 1)
    assert [int(row[0]) for row in rows] == list(range(1, 11))
    for row in rows:
        t = int(row[0])
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        rectified = rho_t > 5
        expected = [rho_t, 1 - beta1**t, 1 - beta2**t]
        shown = [row[1], row[4], row[5]]
        if rectified:
            r_t = ctx.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            expected.append(r_t)
            shown.append(row[3])
        else:
            assert row[3] == "-"
        assert row[2] == ("yes" if rectified else "no"), f"t={t}"
        for value, text in zip(expected, shown, strict=True):
            assert abs(ctx.mpf(text) / value - 1) < 1e-11, f"t={t}: {text} against {value}"


def _float32_power(beta2: np.float32, t: int) -> np.float32:
    """beta2^t correctly rounded to float32 (via its exact rational value)."""
    return np.float32(float(Fraction(float(beta2)) ** t))


def _textbook_float32(beta2: np.float32, t: int) -> np.float32:
    one, two, n = np.float32(1.0), np.float32(2.0), np.float32(t)
    power = _float32_power(beta2, t)
    return np.float32((two / (one - beta2) - one) - (two * n * power) / (one - power))


def _exact_rho(beta2: np.float32, t: int) -> Fraction:
    b = Fraction(float(beta2))
    return (2 / (1 - b) - 1) - 2 * t * b**t / (1 - b**t)


def test_float32_numerics_section_reports_the_cancellation(report: WrittenReport) -> None:
    rows = {(int(row[0]), row[1]): row for row in _markdown_table(report.markdown, 2)}
    flips = 0
    for t in (5, 1000):
        for k in range(1, 8):
            beta2 = np.float32(1.0 - 10.0**-k)
            row = rows[(t, f"{1.0 - float(beta2):.3g}")]
            exact = _exact_rho(beta2, t)
            ulp = float(np.spacing(np.float32(float(exact))))
            textbook = _textbook_float32(beta2, t)
            assert abs(Fraction(row[2]) / exact - 1) < Fraction(1, 10**9), row
            assert np.float32(float(row[3])) == textbook, row
            assert float(row[4]) == pytest.approx(float(abs(Fraction(float(textbook)) - exact)), rel=1e-2)
            assert abs(Fraction(float(row[5])) - exact) <= 4 * Fraction(ulp), row  # cancellation-free
            sides = ["yes" if value > 5 else "no" for value in (exact, Fraction(float(textbook)))]
            assert row[8] == " / ".join(sides), row
            flips += sides[0] != sides[1]
            if k == 7:  # b2 = 1 - 1e-7 in float32: the textbook form keeps no correct digit
                assert float(row[4]) > 1e6 * ulp, row
    assert flips, "the table shows no step whose branch the textbook form gets wrong"
    assert "ulp off" in report.markdown
    assert "wrong side of threshold 5" in report.markdown


# --- what a reader sees ----------------------------------------------------------------------


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="no chromium or chromium-browser on PATH")
def test_report_renders_in_headless_chromium(report: WrittenReport, tmp_path: Path) -> None:
    from matplotlib.image import imread

    screenshot = tmp_path / "report.png"
    page = (report.out_dir / "derivation.html").resolve().as_uri()
    subprocess.run(
        [str(_chromium()), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--screenshot={screenshot}", "--window-size=1200,2400",
         page],
        check=True, capture_output=True, timeout=120,
    )
    pixels = np.asarray(imread(screenshot))[..., :3]
    assert pixels.shape[:2] == (2400, 1200)
    not_white = (pixels < 0.95).any(axis=-1).mean()
    colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert not_white > 0.03, f"only {not_white:.1%} of the page is drawn"
    assert colours > 50, f"only {colours} distinct colours on the page"


def test_the_family_figure_shows_radams_gap_to_adam_and_amsgrads_growing_step() -> None:
    """The left panel's 1 - r_t is the closed form at its steps (computed here, 60 digits)
    and meets its first-order form as t grows; the right panel's bias-corrected AMSGrad step
    grows, up to 1 / sqrt(1 - b2), which the paper's reading holds throughout."""
    import mpmath

    from radam_verify.report import series

    curves = series.family_curves()
    for b2, gap, first in zip(series.FAMILY_BETA2, curves.gap, curves.first_order, strict=True):
        with mpmath.workdps(60):
            b = mpmath.mpf(b2)
            inf = 2 / (1 - b) - 1
            for t, value in list(zip(gap.x, gap.y, strict=True))[::10]:
                rho = inf - 2 * int(t) * b ** int(t) / (1 - b ** int(t))
                r = mpmath.sqrt((rho - 4) * (rho - 2) * inf / ((inf - 4) * (inf - 2) * rho))
                assert abs(value - float(1 - r)) <= 1e-12 * float(1 - r)
        ratios = [a / b for a, b in zip(gap.y, first.y, strict=True)]
        assert abs(ratios[-1] - 1) < 1e-6 < abs(ratios[0] - 1)
    torch_step, paper = curves.amsgrad_torch.y, curves.amsgrad_paper.y
    assert torch_step[0] == pytest.approx(10.0)  # sqrt(1 - b2) / ((1 - b1) sqrt(1 - b2))
    assert torch_step[-1] > torch_step[100] > torch_step[0]
    assert max(torch_step) <= paper[0] * (1 + 1e-12)
    assert len(set(paper)) == 1
