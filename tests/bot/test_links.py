"""arXiv ids and links: what a user pastes into Slack must resolve to the paper they meant."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.links
from bot.links import find_arxiv_ids, normalize_arxiv_id, paper_id

# ---- strategies: every id arXiv's scheme allows ------------------------------------------------------------


@st.composite
def new_style_ids(draw: st.DrawFn) -> str:
    months = [y * 100 + m for y in range(7, 40) for m in range(1, 13) if y * 100 + m >= 704]
    yymm = draw(st.sampled_from(months))
    digits = 4 if yymm <= 1412 else 5
    number = draw(st.integers(min_value=1, max_value=10**digits - 1))
    return f"{yymm:04d}.{number:0{digits}d}"


@st.composite
def old_style_ids(draw: st.DrawFn) -> tuple[str, str]:
    """An old-style id as written (maybe with a subject class) and the paper's key (without it)."""
    archive, subject = draw(
        st.sampled_from(
            [
                ("hep-th", ""),
                ("hep-ph", ""),
                ("astro-ph", ""),
                ("cond-mat", ""),
                ("gr-qc", ""),
                ("quant-ph", ""),
                ("physics", ""),
                ("math", ""),
                ("math", ".CA"),
                ("math", ".AG"),
                ("cs", ".AI"),
                ("nlin", ".SI"),
                ("q-bio", ".NC"),
                ("cond-mat", ".mes-hall"),
            ]
        )
    )
    year = draw(st.sampled_from([91, 95, 99, 0, 3, 7]))
    month = draw(st.integers(min_value=7 if year == 91 else 1, max_value=3 if year == 7 else 12))
    number = draw(st.integers(min_value=1, max_value=999))
    digits = f"{year:02d}{month:02d}{number:03d}"
    return f"{archive}{subject}/{digits}", f"{archive}/{digits}"


# Each id as written and the paper's key: new-style ids are their own key.
ids = st.one_of(new_style_ids().map(lambda i: (i, i)), old_style_ids())
versions = st.one_of(st.none(), st.integers(min_value=1, max_value=30).map(lambda n: f"v{n}"))

LINK_FORMS = [
    "https://arxiv.org/abs/{id}{v}",
    "http://arxiv.org/abs/{id}{v}",
    "https://www.arxiv.org/abs/{id}{v}",
    "https://arxiv.org/pdf/{id}{v}",
    "https://arxiv.org/pdf/{id}{v}.pdf",
    "https://arxiv.org/html/{id}{v}",
    "https://export.arxiv.org/abs/{id}{v}",
    "https://huggingface.co/papers/{id}",
    "https://hf.co/papers/{id}",
    "https://www.alphaxiv.org/abs/{id}{v}",
    "https://www.alphaxiv.org/overview/{id}{v}",
    "arxiv.org/abs/{id}{v}",
    "arXiv:{id}{v}",
]


@given(ids, versions)
def test_normalize_round_trips_every_spelling(written_key: tuple[str, str], version: str | None) -> None:
    written, key = written_key
    v = version or ""
    for spelling in (written + v, f"arXiv:{written}{v}", f"{written}{v}.pdf", f"  {written}{v} "):
        assert normalize_arxiv_id(spelling) == (key, version)
    assert normalize_arxiv_id(key + v) == (key, version)  # the key is itself a valid id


@given(ids, versions, st.sampled_from(LINK_FORMS), st.sampled_from(["", "#S2", "?context=cs", "/"]))
def test_every_link_form_finds_the_paper(
    written_key: tuple[str, str], version: str | None, form: str, tail: str
) -> None:
    written, key = written_key
    url = form.format(id=written, v=version or "") + (tail if form.startswith("http") else "")
    for message in (url, f"look at {url}.", f"<{url}|the paper>", f"<{url}>", f"({url}) and more"):
        assert find_arxiv_ids(message) == [key], message


@given(st.lists(ids, min_size=1, max_size=5))
def test_many_links_keep_order_without_repeats(paper_ids: list[tuple[str, str]]) -> None:
    text = " ".join(f"https://arxiv.org/abs/{i} and https://huggingface.co/papers/{i}" for i, _ in paper_ids)
    assert find_arxiv_ids(text) == list(dict.fromkeys(key for _, key in paper_ids))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2410.1373",
        "2410.137321",
        "2413.12345",
        "0612.1234",
        "1501.1234",
        "1412.12345",
        "hep-th/990100",
        "HEP-TH/9901001",
        "hep-th/9013001",
        "2410.13732x",
        "v2",
    ],
)
def test_not_an_id(text: str) -> None:
    assert normalize_arxiv_id(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "https://www.alphaxiv.org/abs/attention-is-all-you-need",  # alphaXiv slugs name no arXiv id
        "https://arxiv.org/abs/2410.137321",  # one digit too many is another (non-)id, not a prefix
        "https://example.com/abs/2410.13732",
        "call me at 2410.13732",  # a bare number in prose is not a paper
        "https://arxiv.org/list/cs.LG/recent",
    ],
)
def test_no_paper_in(text: str) -> None:
    assert find_arxiv_ids(text) == []


def test_old_style_links_and_slack_labels() -> None:
    text = "<https://arxiv.org/abs/hep-th/9901001v2|Maldacena> vs <https://arxiv.org/pdf/math.CA/0611800.pdf>"
    assert find_arxiv_ids(text) == ["hep-th/9901001", "math/0611800"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("math.GT/0309136v2", ("math/0309136", "v2")),
        ("arXiv:math.CA/0611800v2", ("math/0611800", "v2")),  # arXiv's own example of the scheme
        ("math/0309136", ("math/0309136", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("cond-mat.mes-hall/0101001v3.pdf", ("cond-mat/0101001", "v3")),
    ],
)
def test_the_subject_class_is_not_part_of_the_key(text: str, expected: tuple[str, str | None]) -> None:
    assert normalize_arxiv_id(text) == expected


def test_both_spellings_of_an_old_style_paper_are_one_paper() -> None:
    assert find_arxiv_ids("https://arxiv.org/abs/math.GT/0309136") == ["math/0309136"]
    text = "https://arxiv.org/abs/math.GT/0309136 = arxiv.org/pdf/math/0309136v1.pdf = arXiv:math.GT/0309136v2"
    assert find_arxiv_ids(text) == ["math/0309136"]
    assert find_arxiv_ids("https://arxiv.org/abs/hep-th/9901001") == ["hep-th/9901001"]


@pytest.mark.parametrize("text", ["MATH.GT/0309136", "math.GT/9013001", "math./0309136", "math.GT/030913"])
def test_the_subject_class_is_still_checked(text: str) -> None:
    assert normalize_arxiv_id(text) is None and find_arxiv_ids(f"https://arxiv.org/abs/{text}") == []


@given(ids, versions, st.sampled_from(LINK_FORMS), st.sampled_from(["", "#S2", "?context=cs", "/"]))
def test_a_whole_reference_names_its_paper(
    written_key: tuple[str, str], version: str | None, form: str, tail: str
) -> None:
    written, key = written_key
    url = form.format(id=written, v=version or "") + (tail if form.startswith("http") else "")
    for reference in (url, f"<{url}|the paper>", f"<{url}>", f" {url} ", written + (version or "")):
        assert paper_id(reference) == key, reference


@pytest.mark.parametrize(
    "text",
    [
        "https://example.com/?next=arxiv.org/abs/2410.13732",  # mentions the paper but is another page
        "see https://arxiv.org/abs/2410.13732",  # prose around a link is not a reference
        "https://www.alphaxiv.org/overview/some-slug",
        "https://arxiv.org/list/cs.LG/recent",
        "2410.1373",
        "<>",
        "",
    ],
)
def test_not_a_paper_reference(text: str) -> None:
    assert paper_id(text) is None


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(bot.links)
    assert result.attempted > 0 and result.failed == 0
