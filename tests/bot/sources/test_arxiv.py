"""The arXiv client against the loopback arXiv: lookups, enrichment, errors, and arXiv's 3-second rule."""

from __future__ import annotations

import itertools
import threading
from datetime import date

import pytest

from bot.config import load_settings
from bot.enrich import enrich_from_arxiv, fetch_paper
from bot.sources.arxiv import INTERVAL, ArxivClient, ArxivError, Turns
from bot.sources.hf import parse_items
from bot.sources.sample import sample_items
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.clock import FakeClock
from tests.fakes.hf import daily_item


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(fake: FakeArxiv, clock: FakeClock, **kwargs: object) -> ArxivClient:
    turns = Turns(INTERVAL, clock=clock, sleep=clock.sleep)
    return ArxivClient(fake.url, turns=turns, **{"timeout": 2.0, **kwargs})  # type: ignore[arg-type]


SEED_IDS = [item["paper"]["id"] for item in sample_items()]


def test_lookup_by_ids_reads_every_field(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.papers["2410.13732"].update(
        version="v3",
        doi="10.48550/arXiv.2410.13732",
        also=["cs.AI"],
        comment="12 pages,\n  3 figures",
        journal_ref="J. Test 1 (2024)",
    )
    with client_for(fake_arxiv, clock) as client:
        records = client.by_ids(["2410.13732", "arXiv:2306.00356v1"])
    first, second = records
    assert (first.arxiv_id, first.version, second.arxiv_id) == ("2410.13732", "v3", "2306.00356")
    assert first.title == "Reducing the Transformer Architecture to a Minimum"  # line breaks folded
    assert first.abstract and first.abstract.startswith("Transformers are a widespread") and "\n" not in first.abstract
    assert "Multi-Layer Perceptron" in first.abstract
    assert first.authors[:2] == ["Bernhard Bermeitinger", "Tomas Hrycej"]
    assert (first.primary_category, first.categories) == ("cs.LG", ["cs.LG", "cs.AI"])
    assert (first.comments, first.journal_ref, first.doi) == (
        "12 pages, 3 figures",
        "J. Test 1 (2024)",
        "10.48550/arXiv.2410.13732",
    )
    assert first.published == date(2024, 10, 17) and first.source == "arxiv"
    assert second.doi is None and second.comments is None


def test_unknown_ids_are_simply_absent(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock) as client:
        assert [r.arxiv_id for r in client.by_ids(["2401.99999", "2410.13732", "hep-th/9901001"])] == ["2410.13732"]
        assert client.by_ids([]) == []


def test_batches_are_spaced_three_seconds_apart(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock, batch_size=10) as client:
        records = client.by_ids(SEED_IDS)
    assert len(records) == 31
    assert [len(r["id_list"].split(",")) for r in fake_arxiv.requests] == [10, 10, 10, 1]
    assert clock.sleeps == [3.0, 3.0, 3.0]  # none before the first request


def test_time_already_passed_counts_towards_the_spacing(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock) as client:
        client.by_ids(["2410.13732"])
        clock.now += 1.25  # the caller did something else for a while
        client.by_ids(["2306.00356"])
        clock.now += 10
        client.by_ids(["2111.12997"])
    assert clock.sleeps == [1.75]


def test_one_connection_at_a_time_across_threads(fake_arxiv: FakeArxiv) -> None:
    fake_arxiv.delay_next(0.05, times=4)
    with ArxivClient(fake_arxiv.url) as client:  # the process-wide turns, on conftest's fake clock
        threads = [threading.Thread(target=client.by_ids, args=([i],)) for i in SEED_IDS[:4]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(fake_arxiv.requests) == 4 and fake_arxiv.max_in_flight == 1


def test_spacing_holds_across_threads_sharing_a_client(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    # Six threads ask at once; each request is held a little (real time) so that, without the client's lock,
    # they would overlap and all read "no request yet" on the fake clock.
    fake_arxiv.clock = clock
    fake_arxiv.delay_next(0.02, times=6)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def ask(arxiv_id: str) -> None:
        try:
            start.wait()
            client.by_ids([arxiv_id])
        except BaseException as exc:  # a failure in a thread must fail the test, not vanish
            errors.append(exc)

    with client_for(fake_arxiv, clock) as client:
        threads = [threading.Thread(target=ask, args=(i,)) for i in SEED_IDS[:6]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and len(fake_arxiv.requests) == 6
    arrivals = sorted(fake_arxiv.arrivals)
    assert all(later - earlier >= 3.0 for earlier, later in itertools.pairwise(arrivals)), arrivals
    assert clock.sleeps == [3.0] * 5  # the first request goes at once, each later one waits its turn
    assert fake_arxiv.max_in_flight == 1


def test_old_style_ids_are_looked_up_and_keyed_without_the_subject_class(
    fake_arxiv: FakeArxiv, clock: FakeClock
) -> None:
    # arXiv writes old-style entry ids as http://arxiv.org/abs/hep-th/9901001v1 and .../abs/math/0309136v1.
    fake_arxiv.add_paper(
        "hep-th/9901001",
        "The Large N Limit of Superconformal Field Theories and Supergravity",
        published="1998-01-20",
        primary="hep-th",
    )
    fake_arxiv.add_paper(
        "math/0309136", "Ricci flow with surgery on three-manifolds", version="v2", primary="math.DG", also=["math.GT"]
    )
    with client_for(fake_arxiv, clock) as client:
        records = client.by_ids(["hep-th/9901001", "math.GT/0309136"])
    assert fake_arxiv.requests[0]["id_list"] == "hep-th/9901001,math/0309136"
    assert [(r.arxiv_id, r.version) for r in records] == [("hep-th/9901001", "v1"), ("math/0309136", "v2")]
    assert records[1].title == "Ricci flow with surgery on three-manifolds"
    assert records[1].categories == ["math.DG", "math.GT"]


def test_a_paper_titled_error_is_a_paper(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.add_paper("2501.01234", "Error", published="2025-01-03", primary="cs.LG")
    with client_for(fake_arxiv, clock) as client:
        records = client.by_ids(["2410.13732", "2501.01234", "2306.00356"])
    assert [r.arxiv_id for r in records] == ["2410.13732", "2501.01234", "2306.00356"]
    assert (records[1].title, records[1].primary_category) == ("Error", "cs.LG")
    assert len(fake_arxiv.requests) == 1  # read as papers, not as a refusal


def test_error_entry_is_a_clear_error_and_not_retried(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock) as client, pytest.raises(ArxivError) as info:
        client._records({"id_list": "2410.13732,1234.567x"})  # what a bad id reaching arXiv would get
    assert "incorrect id format for 1234.567x" in str(info.value)
    assert len(fake_arxiv.requests) == 1


def test_bad_ids_are_refused_before_asking(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock) as client, pytest.raises(ValueError, match="'banana' is not an arXiv id"):
        client.by_ids(["2410.13732", "banana"])
    assert fake_arxiv.requests == []


def test_server_errors_and_malformed_bodies_are_retried_with_spacing(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.fail_next(503)
    fake_arxiv.fail_next(200, body="<feed><entry>cut off")
    with client_for(fake_arxiv, clock) as client:
        assert [r.arxiv_id for r in client.by_ids(["2410.13732"])] == ["2410.13732"]
    assert len(fake_arxiv.requests) == 3 and clock.sleeps == [3.0, 3.0]


def test_gives_up_with_a_clear_error(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.fail_next(502, times=5)
    with client_for(fake_arxiv, clock, retries=2) as client, pytest.raises(ArxivError) as info:
        client.by_ids(["2410.13732"])
    assert "gave up on" in str(info.value) and "after 3 tries: HTTP 502" in str(info.value)
    assert "ARXIV_API_URL" in str(info.value) and clock.sleeps == [3.0, 3.0]


def test_a_timeout_is_retried(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.delay_next(1.0)
    with client_for(fake_arxiv, clock, timeout=0.2) as client:
        assert len(client.by_ids(["2410.13732"])) == 1
    assert len(fake_arxiv.requests) == 2


def test_category_query_pages_newest_first(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    with client_for(fake_arxiv, clock) as client:
        first = client.by_category("cs.LG", max_results=5)
        second = client.by_category("cs.LG", start=5, max_results=5)
        with pytest.raises(ValueError, match="max_results"):
            client.by_category("cs.LG", max_results=5000)
    assert len(first) == len(second) == 5
    dates = [r.published for r in first + second]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]
    assert all(r.primary_category == "cs.LG" for r in first + second)
    assert not {r.arxiv_id for r in first} & {r.arxiv_id for r in second}
    assert fake_arxiv.requests[0]["search_query"] == "cat:cs.LG" and clock.sleeps == [3.0]


# ---- Retry-After, and the one process-wide arXiv limiter ------------------------------------------------------


def test_a_retry_after_is_waited_out_and_counts_towards_the_spacing(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.fail_next(503, headers={"Retry-After": "7"})
    with client_for(fake_arxiv, clock, sleep=clock.sleep) as client:
        assert [r.arxiv_id for r in client.by_ids(["2410.13732"])] == ["2410.13732"]
    # Seven seconds asked for, and no extra 3: the spacing was over long before.
    assert len(fake_arxiv.requests) == 2 and clock.sleeps == [7.0]


def test_a_long_retry_after_is_reported_not_slept(fake_arxiv: FakeArxiv, clock: FakeClock) -> None:
    fake_arxiv.fail_next(429, headers={"Retry-After": "3600"})
    with client_for(fake_arxiv, clock, sleep=clock.sleep) as client, pytest.raises(ArxivError) as info:
        client.by_ids(["2410.13732"])
    assert "asks us to wait another 3600s (HTTP 429): try again later" in str(info.value)
    assert len(fake_arxiv.requests) == 1 and clock.sleeps == []


def test_turns_space_several_threads_by_the_interval(clock: FakeClock) -> None:
    turns = Turns(3.0, clock=clock, sleep=clock.sleep)
    start = threading.Barrier(5)
    began: list[float] = []
    inside: list[int] = []

    def take_a_turn() -> None:
        start.wait()
        with turns.turn():
            inside.append(1)
            began.append(clock())
            threading.Event().wait(0.01)  # a request: long enough for another thread to barge in without the lock
            clock.now += 0.5  # ...and the time it took, on the fake clock
            assert len(inside) == 1, "two turns at once"
            inside.pop()

    threads = [threading.Thread(target=take_a_turn) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(began) == 5
    # Each turn starts 3 s after the previous one ended (0.5 s after it started): the first at once.
    assert [later - earlier for earlier, later in itertools.pairwise(began)] == [3.5] * 4
    assert clock.sleeps == [3.0] * 4


def test_every_client_takes_the_process_wide_turns(fake_arxiv: FakeArxiv, arxiv_clock: FakeClock) -> None:
    # The digest's enrichment and a shared link's lookup, at once, each with a client of its own, and no turn
    # of their own: ArxivClient takes the process's one.
    settings = load_settings(ARXIV_API_URL=fake_arxiv.url, DATABASE_URL="sqlite://", PAPERBOT_ARXIV_ENRICH="1")
    fake_arxiv.clock = arxiv_clock
    fake_arxiv.delay_next(0.02, times=4)  # held a little, so that without one turn the requests would overlap
    records = [parse_items([daily_item(i, f"Paper {i}", date(2025, 11, 24))]) for i in SEED_IDS[:3]]
    jobs = [threading.Thread(target=enrich_from_arxiv, args=(settings, r), kwargs={"quick": True}) for r in records]
    jobs.append(threading.Thread(target=fetch_paper, args=(settings, SEED_IDS[3])))  # HF is a closed port here
    for t in jobs:
        t.start()
    for t in jobs:
        t.join()
    assert len(fake_arxiv.requests) == 4 and fake_arxiv.max_in_flight == 1
    assert all(later - earlier >= INTERVAL for earlier, later in itertools.pairwise(sorted(fake_arxiv.arrivals)))
    assert arxiv_clock.sleeps == [INTERVAL] * 3
